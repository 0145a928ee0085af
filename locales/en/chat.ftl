greeting = Hello! I'm billbot. I look up your SenEau, Senelec or Woyofal bill before you pay it, and tell you where an order stands.
menu-prompt = What would you like to do?
menu-title = 🏠 Main menu.
menu-expired = This menu has expired. Here is a fresh one.
error-internal = Sorry, something went wrong on our side. Please try again.
cancel-done = Cancelled.
unknown-command = I don't know the command /{ $name }.
not-understood = I didn't understand that. Tap a button below, or type a customer, police or meter number, or an order number (GB - …).
help =
    Here is what I can do:
    /bill: look up a SenEau, Senelec or Woyofal bill before paying it
    /status GB - 2022…: the status of an order
    /orders: your past orders and lookups, to check them again
    /reminders: your reminders of bills' due dates, to cancel them
    /lang: français or English
    /cancel: leave what you are doing
    /help: this list
    /forget: erase everything I keep about this chat
    You can also type a reference or an order number at any time, or just a word: menu, bill, status, orders, language, cancel, help.
help-support = /support: talk to a person from our support team
help-agent = /history: the merchant's recent transactions (agents)
lang-choose = Choose your language:
lang-set = Language: English.
lang-name = English
btn-bill = 💡 Check a bill
btn-status = 📦 Order status
btn-orders = 🗂 My orders
btn-lang = 🌐 Language
btn-history = 📒 Merchant history
btn-help = ❓ Help
btn-menu = 🏠 Menu
btn-newer = ◀ Newer
btn-older = Older ▶
btn-biller-seneau = 💧 SenEau (water)
btn-biller-senelec = ⚡ Senelec (electricity)
btn-biller-woyofal = 🔌 Woyofal (prepaid)
btn-change-biller = ↩️ Change biller
btn-another-reference = 🔁 Another number
btn-try-again = 🔄 Try again
btn-its-an-order = 📦 It's an order number
btn-refresh = 🔄 Refresh
btn-another-order = 📦 Another order
btn-recheck = 🔄 { $n }
bill-choose = Which biller?
bill-choose-hint = Please pick a biller with the buttons.
bill-ask-reference = Type your { $biller } { $kind }: { $min } to { $max } digits (spaces and dashes are fine).
bill-type-another = You can type another { $kind }.
bill-type-next = To check another { $biller } number, just type it.
btn-another-biller = ↩️ Another biller
bill-which-biller = Which biller is { $reference } for?
status-ask = Type the order number, for example GB - 202206132206791818205.
status-pending-hint = This order is still being processed. Tap Refresh to check it again.
status-type-another = You can type another order number.
orders-empty = You have no orders or bill lookups yet. Check a bill or an order and it will appear here.
orders-title = Your orders and lookups, newest first (page { $page } of { $pages }):
orders-line-lookup = { $n }. { $biller } { $reference } · { $date }
orders-line-order = { $n }. Order { $order } · { $status } · { $date }
orders-recheck-hint = Tap a number to check it again.
history-agents-only = The merchant history is for agents only. I can check one of your orders: tap Order status.
history-title = Merchant transactions (page { $page } of { $pages }, { $total } in all):
history-line = { $n }. { $order } · { $amount } · { $status } · { $date }
history-open-hint = Tap a number to open that transaction.
demo-intro = billbot terminal demo: type a message, or the number of a button to press it. /quit or Ctrl-D to leave.
demo-resumed = Welcome back: the conversation continues where you left it. Type /start for the menu.
command-start = Main menu
command-bill = Check a SenEau, Senelec or Woyofal bill
command-status = Status of an order: /status GB - 2022…
command-orders = My past orders and lookups
command-lang = Language: français or English
command-cancel = Leave the current step
command-help = What billbot can do
command-reminders = My reminders of bills' due dates
command-support = Talk to a person
command-history = Merchant's recent transactions (agents)
btn-save-reference = ⭐ Save this number
btn-manage-saved = ✏️ Manage saved numbers
btn-skip = Skip
btn-rename = ✏️ Rename { $n }
btn-delete = 🗑 Delete { $n }
saved-intro = Your saved numbers are first: tap one to check it again.
saved-label = { $biller } { $reference }
saved-label-named = { $name } · { $biller } { $reference }
saved-done = ⭐ Saved: /bill will show it first.
saved-ask-name = Type a nickname for it (for example “Home” or “Shop”), or tap Skip.
saved-named = ⭐ Saved as “{ $name }”.
saved-empty = You have no saved numbers. After checking a bill, tap “Save this number”.
saved-title = Your saved numbers:
saved-full = You already have { $max } saved numbers, the most I keep. Delete one to save another.
forget-ask =
    🗑 Erase everything I keep about this chat?
    Your language, saved numbers, past lookups and orders list, reminders, and the orders you asked me to watch. Orders themselves are not cancelled, and the provider keeps its own records.
btn-forget-yes = 🗑 Yes, erase all
btn-forget-no = Keep it
forget-done = 🗑 Done: I no longer keep anything about this chat.
forget-kept = Nothing was erased.
forget-limit = You have erased this chat { $count } times today, the most a day. You can erase it again in { $hours ->
    [one] an hour
   *[other] { $hours } hours
}.
saved-deleted = 🗑 { $reference } is no longer saved.
first-contact = Hello! I'm billbot: I look up SenEau, Senelec and Woyofal bills and the status of your orders. Choose your language below, or just type.
wa-list-button = Choose
wa-more-choices = More choices ({ $page }/{ $pages }):
sandbox-notice = 🧪 Test data: this bot answers from a built-in sandbox. No bill or order shown here is real.
limit-bills = ⏸ You have looked up many bills in a short time. Please wait { $minutes ->
    [one] a minute
   *[other] { $minutes } minutes
} before the next one.
limit-orders = ⏸ You have checked many orders in a short time. Please wait { $minutes ->
    [one] a minute
   *[other] { $minutes } minutes
} before the next one.
flood-slow-down = ⏸ You are sending messages faster than I can answer. I will answer those I already have; please wait for them before sending more.
reminder-text = ⏰ Reminder: your { $biller } bill ({ $kind } { $reference }) is due on { $when }.
reminder-amount = Amount to pay: { $amount }.
reminder-amount-unknown = I could not check the amount just now: tap “Check the bill” to see it.
btn-check-bill = 🔄 Check the bill
btn-reminders = ⏰ My reminders
btn-remind-me = ⏰ Remind me
btn-remind-days = { $days ->
        [one] 1 day before
       *[other] { $days } days before
    }
btn-cancel-reminder = ✖ { $biller } { $reference }
reminder-set = ⏰ Done: I will remind you { $days ->
        [one] 1 day
       *[other] { $days } days
    } before the due date ({ $before }) and on the day ({ $date }), at { $hour }:00 Dakar time, with a fresh check of the bill.
reminder-set-on-the-day = ⏰ Done: I will remind you on the due date ({ $date }), at { $hour }:00 Dakar time, with a fresh check of the bill.
reminder-how-to-cancel = Nothing is sent if the bill is paid by then. To see or cancel your reminders: /reminders.
reminder-too-late = The due date ({ $date }) is today or past: there is nothing left to remind you of. Check the bill to see what is still to pay.
reminder-full = You already have { $max } reminders, the most I keep. Cancel one to set another.
reminders-title = ⏰ Your reminders:
reminders-none = You have no reminders. After checking a bill that has a due date, tap “Remind me”.
reminder-line = • { $biller } { $reference }: due { $date }, { $when }
reminder-when = { $days ->
        [one] reminded 1 day before and on the day
       *[other] reminded { $days } days before and on the day
    }
reminder-when-on-the-day = reminded on the day
reminder-cancelled = Reminder for { $biller } { $reference } cancelled.
reminder-already-gone = That reminder was already over or cancelled.
btn-support = 💬 Talk to an agent
btn-close-my-ticket = ✖ Close my request
btn-close-ticket = ✖ Close
support-unavailable = Talking to an agent is not available here yet.
support-ask = 💬 Type your question in one message: it goes to a person from our support team, who will answer here.
support-already-open = Your request { $ticket } is open: type your message and it goes to support.
support-closed-now = Our team is away right now: expect an answer from { $day }, { $time } (Dakar time).
support-opened = ✅ Sent to our support team as request { $ticket }. An agent will answer here. Until the request is closed, what you type goes to them.
support-relayed = ➡️ Sent to support (request { $ticket }).
support-from = 💬 Support, request { $ticket }:
support-from-agent = 💬 { $agent } from support, request { $ticket }:
support-answer-hint = To answer, just type your message.
support-closed-by-agent = ✅ Support closed your request { $ticket }. Thank you! You can ask again at any time: /support.
support-closed-by-you = Request { $ticket } closed.
support-not-open = There is no open request { $ticket }.
support-answer-sent = ✅ Sent to the customer of { $ticket }.
support-not-agent = Only the support agents can answer or close requests here.
support-relay-limit = ✋ You have sent many messages: an agent will read what you sent and answer here. What you type now is not passed on; you can write again in { $minutes ->
    [one] a minute
   *[other] { $minutes } minutes
}.
support-ticket-limit = You have opened { $count } requests today: an agent will answer them here. You can open a new one in { $hours ->
    [one] an hour
   *[other] { $hours } hours
}.
support-agent-help = Support chat: reply to a request's message to answer its customer, or type /reply ID your text; /close ID ends it (the customer is told).
ticket-opened =
    🎫 { $ticket } · new request ({ $channel }, { $lang })
    Recent lookups:
    { $context }
ticket-customer-wrote =
    The customer wrote:
    { $text }
ticket-how-to-answer = Reply to this message to answer, or /reply { $ticket } text; /close { $ticket } ends it.
ticket-customer-says =
    🎫 { $ticket } · the customer wrote:
    { $text }
ticket-closed-by-customer = 🎫 { $ticket } · closed by the customer.
ticket-closed-told = 🎫 { $ticket } closed; the customer was told.
ticket-no-context = none
channel-tg = Telegram
channel-wa = WhatsApp
channel-term = terminal
ticket-about = About: { $about } (the lookup failed)
