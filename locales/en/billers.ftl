biller-seneau = SenEau
biller-senelec = Senelec
biller-woyofal = Woyofal
reference-kind-customer-reference = customer reference
reference-kind-customer-number = customer number (police)
reference-kind-meter-number = meter number
