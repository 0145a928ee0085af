# Comment le français écrit les nombres, les montants et les dates.
# Séparateur de milliers : espace insécable, pour qu'un montant ne soit jamais coupé en fin de ligne.
number-group-separator = { "\u00A0" }
number-decimal-separator = ,
money = { $amount } { $currency }
currency-XOF = FCFA
currency-NGN = NGN
date = { $day } { $month } { $year }
date-time = { $date } à { $time }
month-1 = janv.
month-2 = févr.
month-3 = mars
month-4 = avr.
month-5 = mai
month-6 = juin
month-7 = juil.
month-8 = août
month-9 = sept.
month-10 = oct.
month-11 = nov.
month-12 = déc.
field-line = { $label } : { $value }
value-change = { $before } → { $after }
