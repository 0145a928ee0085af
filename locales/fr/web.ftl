# Les mots de la page du chat web (src/channels/web/page.rs : web-<nom>).
web-title = billbot : consulter une facture
web-log = Conversation
web-input = Votre message
web-placeholder = Tapez une référence, un numéro de commande ou « menu »
web-send = Envoyer
web-new = Nouvelle conversation
web-typing = billbot écrit…
web-lost = Connexion perdue. Nouvel essai…
web-restored = Connexion rétablie.
web-too-long = Ce message est trop long : 2 000 caractères au plus.
web-too-fast = Vous envoyez des messages trop vite. Attendez un instant, puis renvoyez-le.
web-failed = Votre message n'a pas pu être envoyé. Veuillez réessayer.
web-you = Vous
web-bot = billbot
web-open = Discuter avec nous
web-close = Fermer le chat
