inquiry-heading = { $biller }, { $kind } { $reference }
inquiry-bill-title = Bill { $index } of { $count }
inquiry-total-due = { $count ->
    [one] To pay: 1 bill, { $total } in total.
   *[other] To pay: { $count } bills, { $total } in total.
}
inquiry-nothing-to-pay = Nothing to pay: every bill on this account is already paid.
inquiry-total-mixed = Several currencies: see each bill's total.
inquiry-meter-amount-at-payment = Woyofal is prepaid: you choose the amount when you pay.
label-bill-reference = Bill reference
label-holder = Holder
label-amount = Amount
label-fee = Fee
label-total = Total
label-due-date = Due date
label-bill-state = State
bill-state-paid = already paid
bill-state-unpaid = to pay
label-address = Address
# A stranger's view of an address: only its locality.
address-locality = …, { $locality }
label-meter-status = Meter status
meter-status-active = active
meter-status-blocked = blocked
meter-status-suspended = suspended
meter-status-inactive = inactive
reference-error-empty = Please type your { $biller } { $kind }: { $min } to { $max } digits.
reference-error-character = A { $kind } has only digits (spaces and dashes are fine), but it contains “{ $found }”. Expected: { $min } to { $max } digits.
reference-error-length = A { $biller } { $kind } has { $min } to { $max } digits; this one has { $actual }. Please check it and type it again.
inquiry-more-bills = … and { $count } more { $count ->
        [one] bill
       *[other] bills
    }, { $unpaid } of them to pay (counted in the total below).
due-date-and-distance = { $date } ({ $distance })
due-today = due today
due-in-days = { $days ->
        [one] due tomorrow
       *[other] due in { $days } days
    }
overdue-by-days = { $days ->
        [one] overdue by 1 day
       *[other] overdue by { $days } days
    }
