inquiry-heading = { $biller }, { $kind } { $reference }
inquiry-bill-title = Facture { $index } sur { $count }
inquiry-total-due = { $count ->
    [one] À payer : 1 facture, { $total } au total.
   *[other] À payer : { $count } factures, { $total } au total.
}
inquiry-nothing-to-pay = Rien à payer : toutes les factures de ce compte sont déjà réglées.
inquiry-total-mixed = Plusieurs devises : voir le total de chaque facture.
inquiry-meter-amount-at-payment = Woyofal est prépayé : vous choisissez le montant au moment du paiement.
label-bill-reference = Référence de la facture
label-holder = Titulaire
label-amount = Montant
label-fee = Frais
label-total = Total
label-due-date = Échéance
label-bill-state = État
bill-state-paid = déjà payée
bill-state-unpaid = à payer
label-address = Adresse
# Ce qu'un inconnu voit d'une adresse : sa localité seulement.
address-locality = …, { $locality }
label-meter-status = État du compteur
meter-status-active = actif
meter-status-blocked = bloqué
meter-status-suspended = suspendu
meter-status-inactive = inactif
reference-error-empty = Saisissez votre numéro { $biller } ({ $kind }) : { $min } à { $max } chiffres.
reference-error-character = Seuls les chiffres sont acceptés (les espaces et les tirets sont permis) ; « { $found } » n'en est pas un. Format attendu ({ $kind }) : { $min } à { $max } chiffres.
reference-error-length = Pour { $biller }, le format attendu ({ $kind }) est de { $min } à { $max } chiffres ; vous en avez saisi { $actual }. Vérifiez le numéro et saisissez-le à nouveau.
inquiry-more-bills = … et { $count } { $count ->
        [one] autre facture
       *[other] autres factures
    }, dont { $unpaid } à payer (comptées dans le total ci-dessous).
due-date-and-distance = { $date } ({ $distance })
due-today = à payer aujourd'hui
due-in-days = { $days ->
        [one] à payer demain
       *[other] dans { $days } jours
    }
overdue-by-days = { $days ->
        [one] en retard d'un jour
       *[other] en retard de { $days } jours
    }
