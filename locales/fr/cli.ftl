cli-error = billbot : { $message }
cli-config-error = erreur de configuration : { $detail }
cli-start-error = démarrage impossible : { $detail }
cli-listen-error = impossible d'écouter sur { $addr } : { $detail }
cli-embedded-sandbox = Aucune URL de fournisseur configurée : utilisation du bac à sable intégré sur http://{ $addr } (définissez BILLBOT_INQUIRY_URL et BILLBOT_STATUS_URL pour les vrais fournisseurs).
cli-demo-web-open = Le chat web est prêt : ouvrez { $url } dans un navigateur. Ctrl-C l'arrête.
cli-unknown-service-code = code de service inconnu « { $code } » : utilisez SENEAU_SN_BILL, SENELEC_SN_BILL ou WOYOFAL_SN_BILL.
cli-unauthorized = le fournisseur a refusé la clé d'API (HTTP 401) : vérifiez BILLBOT_INQUIRY_API_KEY, BILLBOT_STATUS_API_KEY et BILLBOT_MERCHANT_ID.
cli-unavailable = le fournisseur est indisponible ({ $reason }). Réessayez dans quelques minutes.
cli-reason-timeout = pas de réponse à temps
cli-reason-connect = connexion refusée ou impossible
cli-reason-http = HTTP { $code }
cli-reason-transport = l'échange a été interrompu
cli-with-provider-message = { $text } (fournisseur : « { $provider } »)
cli-sandbox-ready =
    Bac à sable en écoute.
      Consultation de facture : POST { $inquiry_url }   (Authorization: Bearer { $inquiry_key })
      Statut des commandes :    GET  { $status_url }/bill/status/NUMERO et /bill/history   (Authorization: Bearer { $status_key }, MerchantId: { $merchant_id })
    Ctrl-C pour arrêter.
cli-store-error = impossible d'ouvrir la base de données : { $detail }
cli-serve-stopped = le bot s'est arrêté : { $detail }
cli-migrate-from = --from doit être sled:DOSSIER, le dossier du magasin sled à copier.
cli-migrate-to = la base doit être une URL PostgreSQL (--to ou BILLBOT_DATABASE_URL) : postgres://utilisateur:motdepasse@hôte:5432/base.
cli-migrate-to-missing = quelle base ? Définissez BILLBOT_DATABASE_URL=postgres://utilisateur:motdepasse@hôte:5432/base (ou donnez --to, que les autres utilisateurs de cette machine peuvent lire).
cli-migrate-password-visible = attention : un mot de passe donné avec --to peut être lu par les autres utilisateurs de cette machine pendant que la commande tourne ; définissez plutôt BILLBOT_DATABASE_URL.
cli-migrate-count = { $kind } : { $count }
cli-migrate-done = { $count } enregistrements copiés dans PostgreSQL (ceux qui s'y trouvaient déjà ont été remplacés).
cli-migrate-skipped = { $count } enregistrements illisibles ont été laissés de côté (voir le journal).
cli-migrate-kind-dialogue = dialogues
cli-migrate-kind-prefs = préférences
cli-migrate-kind-order = commandes
cli-migrate-kind-activity = éléments d'historique
cli-migrate-kind-saved = numéros enregistrés
cli-migrate-kind-watch = suivis
cli-migrate-kind-held = notifications en attente
cli-migrate-kind-alias = alias
cli-migrate-kind-seen = identifiants de messages reçus
cli-migrate-kind-inbox = messages non traités
cli-migrate-kind-outgoing = notifications à envoyer ou envoyées
cli-migrate-kind-reminder = rappels
cli-migrate-kind-ticket = demandes au support
cli-migrate-kind-swept_owned = commandes effacées qui avaient des propriétaires
cli-migrate-kind-web_line = lignes de chat web
cli-migrate-kind-web_seq = compteurs de lignes de chat web
cli-backup-not-empty = { $dir } contient déjà des fichiers : donnez un dossier nouveau ou vide.
cli-backup-done = Le magasin de { $from } est copié dans { $to }. Pour le restaurer, arrêtez billbot et relancez-le avec BILLBOT_DATA_DIR={ $to }.
# L'aide de la ligne de commande (billbot --help) : les titres, puis la description de chaque
# commande et de ses arguments (cli-about-<commande>, cli-arg-<commande>-<argument>).
cli-help-template =
    {"{"}about-with-newline{"}"}
    Utilisation : {"{"}usage{"}"}

    {"{"}all-args{"}"}{"{"}after-help{"}"}
cli-heading-commands = Commandes{"\u00A0"}
cli-heading-arguments = Arguments{"\u00A0"}
cli-heading-options = Options{"\u00A0"}
cli-value-command = COMMANDE
cli-arg-help = Afficher l'aide
cli-arg-version = Afficher la version
cli-about = Consulter des factures sénégalaises et le statut de commandes, par chat ou depuis le terminal
cli-about-inquire = Consulter une facture (ou un compteur Woyofal) et l'afficher
cli-arg-inquire-service_code = SENEAU_SN_BILL, SENELEC_SN_BILL ou WOYOFAL_SN_BILL
cli-arg-inquire-reference = La référence client, le numéro de police ou de compteur (espaces et tirets permis)
cli-arg-inquire-json = Afficher le résultat en JSON
cli-arg-inquire-lang = Langue de la sortie : fr ou en (par défaut : celle du terminal)
cli-about-status = Afficher le statut d'une commande, vue opérateur (champs marchand compris)
cli-arg-status-order_no = Le numéro de commande, avec ou sans son préfixe « GB - »
cli-arg-status-json = Afficher le résultat en JSON
cli-arg-status-lang = Langue de la sortie : fr ou en (par défaut : celle du terminal)
cli-about-demo = Discuter avec le bot dans le terminal (boutons numérotés ; scriptable par l'entrée standard)
cli-arg-demo-lang = Langue du client : fr ou en (par défaut : celle du terminal)
cli-arg-demo-agent = Discuter en tant qu'agent (champs marchand, /history)
cli-arg-demo-web = Servir plutôt le chat web, et afficher l'adresse à ouvrir dans un navigateur
cli-arg-demo-listen = Adresse du chat web (avec --web)
cli-about-serve = Faire tourner le bot sur chaque canal configuré (Telegram si TELOXIDE_TOKEN est défini, WhatsApp si BILLBOT_WHATSAPP_TOKEN l'est)
cli-arg-serve-sandbox = Répondre depuis le bac à sable intégré (données de test) si aucun fournisseur n'est configuré, comme BILLBOT_SANDBOX=1 ; chaque réponse dit alors qu'il s'agit de données de test
cli-about-sandbox = Servir les deux API du fournisseur, simulées, pour essayer billbot sans compte fournisseur
cli-arg-sandbox-listen = Adresse d'écoute
cli-about-backup = Copier la base sled (BILLBOT_DATA_DIR) dans un nouveau répertoire, bot arrêté
cli-arg-backup-dir = Où va la copie : un répertoire qui n'existe pas encore, ou vide
cli-about-migrate-store = Copier une base sled dans PostgreSQL (idempotent : la relancer ne change rien)
cli-arg-migrate-store-from = La base sled : sled:RÉPERTOIRE
cli-arg-migrate-store-to = La base PostgreSQL : postgres://utilisateur:motdepasse@hôte/base (par défaut : BILLBOT_DATABASE_URL, que les autres utilisateurs de la machine ne peuvent pas lire, contrairement à une ligne de commande)
cli-about-help = Afficher ce message ou l'aide des commandes données
cli-arg-help-subcommand = La commande dont afficher l'aide
