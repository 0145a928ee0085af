biller-seneau = SenEau
biller-senelec = Senelec
biller-woyofal = Woyofal
reference-kind-customer-reference = référence client
reference-kind-customer-number = numéro de police
reference-kind-meter-number = numéro de compteur
