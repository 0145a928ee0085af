cli-error = billbot : { $message }
cli-config-error = erreur de configuration : { $detail }
cli-start-error = démarrage impossible : { $detail }
cli-listen-error = impossible d'écouter sur { $addr } : { $detail }
cli-embedded-sandbox = Aucune URL de fournisseur configurée : utilisation du bac à sable intégré sur http://{ $addr } (définissez BILLBOT_INQUIRY_URL et BILLBOT_STATUS_URL pour les vrais fournisseurs).
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
cli-migrate-to = --to doit être une URL PostgreSQL : postgres://utilisateur:motdepasse@hôte:5432/base.
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
cli-backup-not-empty = { $dir } contient déjà des fichiers : donnez un dossier nouveau ou vide.
cli-backup-done = Le magasin de { $from } est copié dans { $to }. Pour le restaurer, arrêtez billbot et relancez-le avec BILLBOT_DATA_DIR={ $to }.
