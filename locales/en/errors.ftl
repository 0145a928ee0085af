error-bill-not-found = { $biller } found no bill for { $kind } { $reference }. Please check the number and try again.
error-order-not-found = No order { $order } was found. Please check the number: it is on your payment receipt.
error-history-empty = No transactions were found.
error-maintenance = The service is under maintenance. Please try again later.
error-unavailable = The service is not answering right now. Please try again in a few minutes.
error-unreadable = The service sent an answer that could not be read. Please try again in a few minutes.
provider-queue-note = Many people are checking their bills right now: yours is next, one moment please.
