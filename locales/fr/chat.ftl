greeting = Bonjour ! Je suis billbot. Je consulte votre facture SenEau, Senelec ou Woyofal avant que vous la payiez, et je vous dis où en est une commande.
menu-prompt = Que voulez-vous faire ?
menu-title = 🏠 Menu principal.
menu-expired = Ce menu a expiré. En voici un nouveau.
error-internal = Désolé, un problème est survenu de notre côté. Veuillez réessayer.
cancel-done = Annulé.
unknown-command = Je ne connais pas la commande /{ $name }.
not-understood = Je n'ai pas compris. Touchez un bouton ci-dessous, ou saisissez un numéro de client, de police ou de compteur, ou un numéro de commande (GB - …).
help =
    Voici ce que je sais faire :
    /bill : consulter une facture SenEau, Senelec ou Woyofal avant de la payer
    /status GB - 2022… : le statut d'une commande
    /orders : vos commandes et consultations passées, pour les revérifier
    /reminders : vos rappels d'échéance, pour les annuler
    /lang : français ou English
    /cancel : abandonner l'étape en cours
    /help : cette liste
    /forget : effacer tout ce que je garde sur cette discussion
    Vous pouvez aussi saisir une référence ou un numéro de commande à tout moment, ou simplement un mot : menu, facture, statut, commandes, langue, annuler, aide.
help-support = /support : parler à une personne de notre service client
help-agent = /history : les transactions récentes du marchand (agents)
lang-choose = Choisissez votre langue :
lang-set = Langue : français.
lang-name = Français
btn-bill = 💡 Consulter une facture
btn-status = 📦 Statut de commande
btn-orders = 🗂 Mes commandes
btn-lang = 🌐 Langue
btn-history = 📒 Historique marchand
btn-help = ❓ Aide
btn-menu = 🏠 Menu
btn-newer = ◀ Plus récentes
btn-older = Plus anciennes ▶
btn-biller-seneau = 💧 SenEau (eau)
btn-biller-senelec = ⚡ Senelec (électricité)
btn-biller-woyofal = 🔌 Woyofal (prépayé)
btn-change-biller = ↩️ Changer de facturier
btn-another-reference = 🔁 Autre numéro
btn-try-again = 🔄 Réessayer
btn-its-an-order = 📦 C'est un numéro de commande
btn-refresh = 🔄 Actualiser
btn-another-order = 📦 Autre commande
btn-recheck = 🔄 { $n }
bill-choose = Quel facturier ?
bill-choose-hint = Choisissez un facturier avec les boutons.
bill-ask-reference = Saisissez votre numéro { $biller } ({ $kind }) : { $min } à { $max } chiffres (espaces et tirets acceptés).
bill-type-another = Vous pouvez saisir un autre numéro ({ $kind }).
bill-type-next = Pour consulter un autre numéro { $biller }, saisissez-le simplement.
btn-another-biller = ↩️ Autre facturier
bill-which-biller = Pour quel facturier est le numéro { $reference } ?
status-ask = Saisissez le numéro de commande, par exemple GB - 202206132206791818205.
status-pending-hint = Cette commande est encore en cours de traitement. Touchez Actualiser pour la revérifier.
status-type-another = Vous pouvez saisir un autre numéro de commande.
orders-empty = Vous n'avez encore aucune commande ni consultation. Consultez une facture ou une commande et elle apparaîtra ici.
orders-title = Vos commandes et consultations, des plus récentes aux plus anciennes (page { $page } sur { $pages }) :
orders-line-lookup = { $n }. { $biller } { $reference } · { $date }
orders-line-order = { $n }. Commande { $order } · { $status } · { $date }
orders-recheck-hint = Touchez un numéro pour le revérifier.
history-agents-only = L'historique marchand est réservé aux agents. Je peux vérifier une de vos commandes : touchez Statut de commande.
history-title = Transactions du marchand (page { $page } sur { $pages }, { $total } au total) :
history-line = { $n }. { $order } · { $amount } · { $status } · { $date }
history-open-hint = Touchez un numéro pour ouvrir la transaction.
demo-intro = Démo de billbot dans le terminal : saisissez un message, ou le numéro d'un bouton pour l'activer. /quit ou Ctrl-D pour quitter.
demo-resumed = Bon retour : la conversation reprend là où vous l'aviez laissée. Tapez /start pour le menu.
command-start = Menu principal
command-bill = Consulter une facture SenEau, Senelec ou Woyofal
command-status = Statut d'une commande : /status GB - 2022…
command-orders = Mes commandes et consultations passées
command-lang = Langue : français ou English
command-cancel = Abandonner l'étape en cours
command-help = Ce que sait faire billbot
command-reminders = Mes rappels d'échéance
command-support = Parler à une personne
command-history = Transactions récentes du marchand (agents)
btn-save-reference = ⭐ Garder ce numéro
btn-manage-saved = ✏️ Gérer les numéros enregistrés
btn-skip = Passer
btn-rename = ✏️ Renommer { $n }
btn-delete = 🗑 Supprimer { $n }
saved-intro = Vos numéros enregistrés sont en tête : touchez-en un pour le revérifier.
saved-label = { $biller } { $reference }
saved-label-named = { $name } · { $biller } { $reference }
saved-done = ⭐ Enregistré : /bill le proposera en premier.
saved-ask-name = Donnez-lui un nom (par exemple « Maison » ou « Boutique »), ou touchez Passer.
saved-named = ⭐ Enregistré sous le nom « { $name } ».
saved-empty = Vous n'avez aucun numéro enregistré. Après avoir consulté une facture, touchez « Enregistrer ce numéro ».
saved-title = Vos numéros enregistrés :
saved-full = Vous avez déjà { $max } numéros enregistrés, le maximum. Supprimez-en un pour en enregistrer un autre.
forget-ask =
    🗑 Effacer tout ce que je garde sur cette discussion ?
    Votre langue, vos numéros enregistrés, vos consultations et commandes passées, vos rappels, et les commandes que vous m'avez demandé de suivre. Les commandes elles-mêmes ne sont pas annulées, et le fournisseur garde ses propres données.
btn-forget-yes = 🗑 Oui, tout effacer
btn-forget-no = Non, garder
forget-done = 🗑 C'est fait : je ne garde plus rien sur cette discussion.
forget-kept = Rien n'a été effacé.
forget-limit = Vous avez effacé cette discussion { $count } fois aujourd'hui, le maximum par jour. Vous pourrez l'effacer à nouveau dans { $hours ->
    [one] une heure
   *[other] { $hours } heures
}.
saved-deleted = 🗑 { $reference } n'est plus enregistré.
first-contact = Bonjour ! Je suis billbot : je consulte vos factures SenEau, Senelec et Woyofal et le statut de vos commandes. Choisissez votre langue ci-dessous, ou écrivez directement.
wa-list-button = Choisir
wa-more-choices = Autres choix ({ $page }/{ $pages }) :
sandbox-notice = 🧪 Données de test : ce bot répond depuis un bac à sable intégré. Aucune facture ni commande affichée ici n'est réelle.
limit-bills = ⏸ Vous avez consulté beaucoup de factures en peu de temps. Merci d'attendre { $minutes ->
    [one] une minute
   *[other] { $minutes } minutes
} avant la prochaine.
limit-orders = ⏸ Vous avez vérifié beaucoup de commandes en peu de temps. Merci d'attendre { $minutes ->
    [one] une minute
   *[other] { $minutes } minutes
} avant la prochaine.
flood-slow-down = ⏸ Vous envoyez des messages plus vite que je ne peux répondre. Je réponds à ceux déjà reçus ; merci d'attendre mes réponses avant d'en envoyer d'autres.
reminder-text = ⏰ Rappel : votre facture { $biller } ({ $kind } { $reference }) arrive à échéance le { $when }.
reminder-amount = Montant à payer : { $amount }.
reminder-amount-unknown = Je n'ai pas pu vérifier le montant à l'instant : touchez « Voir la facture » pour le consulter.
btn-check-bill = 🔄 Voir la facture
btn-reminders = ⏰ Mes rappels
btn-remind-me = ⏰ Me le rappeler
btn-remind-days = { $days ->
        [one] 1 jour avant
       *[other] { $days } jours avant
    }
btn-cancel-reminder = ✖ { $biller } { $reference }
reminder-set = ⏰ C'est noté : je vous le rappellerai { $days ->
        [one] 1 jour
       *[other] { $days } jours
    } avant l'échéance ({ $before }) et le jour même ({ $date }), à { $hour } h (heure de Dakar), en revérifiant la facture.
reminder-set-on-the-day = ⏰ C'est noté : je vous le rappellerai le jour de l'échéance ({ $date }), à { $hour } h (heure de Dakar), en revérifiant la facture.
reminder-how-to-cancel = Rien n'est envoyé si la facture est payée d'ici là. Pour voir ou annuler vos rappels : /reminders.
reminder-too-late = L'échéance ({ $date }) est aujourd'hui ou passée : il n'y a plus rien à vous rappeler. Consultez la facture pour voir ce qui reste à payer.
reminder-full = Vous avez déjà { $max } rappels, le maximum que je garde. Annulez-en un pour en créer un autre.
reminders-title = ⏰ Vos rappels :
reminders-none = Vous n'avez aucun rappel. Après avoir consulté une facture qui a une échéance, touchez « Me le rappeler ».
reminder-line = • { $biller } { $reference } : échéance le { $date }, { $when }
reminder-when = { $days ->
        [one] rappel 1 jour avant et le jour même
       *[other] rappel { $days } jours avant et le jour même
    }
reminder-when-on-the-day = rappel le jour même
reminder-cancelled = Rappel pour { $biller } { $reference } annulé.
reminder-already-gone = Ce rappel était déjà terminé ou annulé.
btn-support = 💬 Parler à un agent
btn-close-my-ticket = ✖ Clore ma demande
btn-close-ticket = ✖ Clore
support-unavailable = Le contact avec un agent n'est pas encore disponible ici.
support-ask = 💬 Écrivez votre question en un message : elle va à une personne de notre service client, qui vous répondra ici.
support-already-open = Votre demande { $ticket } est ouverte : écrivez votre message, il va au service client.
support-closed-now = Notre équipe est absente en ce moment : attendez une réponse à partir du { $day }, { $time } (heure de Dakar).
support-opened = ✅ Transmis à notre service client sous le numéro de demande { $ticket }. Un agent vous répondra ici. Tant que la demande est ouverte, ce que vous écrivez lui est transmis.
support-relayed = ➡️ Transmis au service client (demande { $ticket }).
support-from = 💬 Service client, demande { $ticket } :
support-from-agent = 💬 { $agent }, du service client, demande { $ticket } :
support-answer-hint = Pour répondre, écrivez simplement votre message.
support-closed-by-agent = ✅ Le service client a clos votre demande { $ticket }. Merci ! Vous pouvez le contacter à nouveau à tout moment : /support.
support-closed-by-you = Demande { $ticket } close.
support-not-open = Aucune demande { $ticket } n'est ouverte.
support-answer-sent = ✅ Transmis au client de { $ticket }.
support-not-agent = Seuls les agents du service client peuvent répondre aux demandes ou les clore ici.
support-relay-limit = ✋ Vous avez envoyé beaucoup de messages : un agent va lire ce que vous avez envoyé et vous répondra ici. Ce que vous écrivez maintenant n'est pas transmis ; vous pourrez écrire à nouveau dans { $minutes ->
    [one] une minute
   *[other] { $minutes } minutes
}.
support-ticket-limit = Vous avez ouvert { $count } demandes aujourd'hui : un agent vous répondra ici. Vous pourrez en ouvrir une nouvelle dans { $hours ->
    [one] une heure
   *[other] { $hours } heures
}.
support-agent-help = Discussion du service client : répondez au message d'une demande pour écrire à son client, ou tapez /reply ID votre texte ; /close ID la clôt (le client est prévenu).
ticket-opened =
    🎫 { $ticket } · nouvelle demande ({ $channel }, { $lang })
    Consultations récentes :
    { $context }
ticket-customer-wrote =
    Le client a écrit :
    { $text }
ticket-how-to-answer = Répondez à ce message pour écrire au client, ou /reply { $ticket } texte ; /close { $ticket } la clôt.
ticket-customer-says =
    🎫 { $ticket } · le client a écrit :
    { $text }
ticket-closed-by-customer = 🎫 { $ticket } · close par le client.
ticket-closed-told = 🎫 { $ticket } close ; le client est prévenu.
ticket-no-context = aucune
channel-tg = Telegram
channel-wa = WhatsApp
channel-term = terminal
ticket-about = À propos de : { $about } (la consultation a échoué)
