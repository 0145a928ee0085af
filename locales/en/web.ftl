# The web chat page's own words (src/channels/web/page.rs: web-<name>).
web-title = billbot: check a bill
web-log = Conversation
web-input = Your message
web-placeholder = Type a reference, an order number or "menu"
web-send = Send
web-new = New conversation
web-typing = billbot is writing…
web-lost = Connection lost. Trying again…
web-restored = Connected again.
web-too-long = That message is too long: 2,000 characters at most.
web-too-fast = You are sending messages too fast. Wait a moment, then send it again.
web-failed = Your message could not be sent. Please try again.
web-you = You
web-bot = billbot
web-open = Chat with us
web-close = Close the chat
