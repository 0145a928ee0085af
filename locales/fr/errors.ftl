error-bill-not-found = { $biller } ne trouve aucune facture pour le numéro { $reference } ({ $kind }). Vérifiez le numéro et réessayez.
error-order-not-found = Aucune commande { $order } n'a été trouvée. Vérifiez le numéro : il figure sur votre reçu de paiement.
error-history-empty = Aucune transaction trouvée.
error-maintenance = Le service est en maintenance. Veuillez réessayer plus tard.
error-unavailable = Le service ne répond pas pour le moment. Veuillez réessayer dans quelques minutes.
error-unreadable = Le service a envoyé une réponse illisible. Veuillez réessayer dans quelques minutes.
provider-queue-note = Beaucoup de personnes consultent leurs factures en ce moment : la vôtre est la prochaine, un instant s'il vous plaît.
