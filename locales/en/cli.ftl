cli-error = billbot: { $message }
cli-config-error = configuration error: { $detail }
cli-start-error = could not start: { $detail }
cli-listen-error = cannot listen on { $addr }: { $detail }
cli-embedded-sandbox = No provider URL configured: using the built-in sandbox at http://{ $addr } (set BILLBOT_INQUIRY_URL and BILLBOT_STATUS_URL to use real providers).
cli-demo-web-open = The web chat is ready: open { $url } in a browser. Ctrl-C stops it.
cli-unknown-service-code = unknown service code “{ $code }”: use SENEAU_SN_BILL, SENELEC_SN_BILL or WOYOFAL_SN_BILL.
cli-unauthorized = the provider refused the API key (HTTP 401): check BILLBOT_INQUIRY_API_KEY, BILLBOT_STATUS_API_KEY and BILLBOT_MERCHANT_ID.
cli-unavailable = the provider is unavailable ({ $reason }). Try again in a few minutes.
cli-reason-timeout = no answer in time
cli-reason-connect = connection refused or unreachable
cli-reason-http = HTTP { $code }
cli-reason-transport = the exchange was cut off
cli-with-provider-message = { $text } (provider: “{ $provider }”)
cli-sandbox-ready =
    Sandbox listening.
      Bill Inquiry:  POST { $inquiry_url }   (Authorization: Bearer { $inquiry_key })
      Bill status:   GET  { $status_url }/bill/status/ORDER_NO and /bill/history   (Authorization: Bearer { $status_key }, MerchantId: { $merchant_id })
    Press Ctrl-C to stop.
cli-store-error = the database could not be opened: { $detail }
cli-serve-stopped = the bot stopped: { $detail }
cli-migrate-from = --from must be sled:DIR, the directory of the sled store to copy.
cli-migrate-to = the database must be a PostgreSQL URL (--to or BILLBOT_DATABASE_URL): postgres://user:password@host:5432/database.
cli-migrate-to-missing = which database? Set BILLBOT_DATABASE_URL=postgres://user:password@host:5432/database (or give --to, which other users of this machine can read).
cli-migrate-password-visible = warning: a password given with --to can be read by other users of this machine while the command runs; set BILLBOT_DATABASE_URL instead.
cli-migrate-count = { $kind }: { $count }
cli-migrate-done = Copied { $count } records into PostgreSQL (records already there were replaced).
cli-migrate-skipped = { $count } unreadable records were left out (see the log).
cli-migrate-kind-dialogue = dialogues
cli-migrate-kind-prefs = preferences
cli-migrate-kind-order = orders
cli-migrate-kind-activity = activity items
cli-migrate-kind-saved = saved numbers
cli-migrate-kind-watch = watches
cli-migrate-kind-held = held notices
cli-migrate-kind-alias = aliases
cli-migrate-kind-seen = inbound message ids
cli-migrate-kind-inbox = unhandled messages
cli-migrate-kind-outgoing = notices to send or sent
cli-migrate-kind-reminder = reminders
cli-migrate-kind-ticket = support tickets
cli-migrate-kind-swept_owned = swept orders that had owners
cli-migrate-kind-web_line = web chat lines
cli-migrate-kind-web_seq = web chat line counters
cli-backup-not-empty = { $dir } already holds files: give a new or empty directory.
cli-backup-done = The store in { $from } is copied to { $to }. To restore it, stop billbot and start it with BILLBOT_DATA_DIR={ $to }.
# The command line's help (billbot --help): headings, then each command's description and its
# arguments' (cli-about-<command>, cli-arg-<command>-<argument>).
cli-help-template =
    {"{"}about-with-newline{"}"}
    Usage: {"{"}usage{"}"}

    {"{"}all-args{"}"}{"{"}after-help{"}"}
cli-heading-commands = Commands
cli-heading-arguments = Arguments
cli-heading-options = Options
cli-value-command = COMMAND
cli-arg-help = Print help
cli-arg-version = Print version
cli-about = Look up Senegalese bills and order statuses, by chat or from the terminal
cli-about-inquire = Look up one bill (or a Woyofal meter) and print it
cli-arg-inquire-service_code = SENEAU_SN_BILL, SENELEC_SN_BILL or WOYOFAL_SN_BILL
cli-arg-inquire-reference = The customer reference, police or meter number (spaces and dashes allowed)
cli-arg-inquire-json = Print the result as JSON
cli-arg-inquire-lang = Language of the output: fr or en (default: the terminal's)
cli-about-status = Print one order's status, operator view (merchant fields included)
cli-arg-status-order_no = The order number, with or without its "GB - " prefix
cli-arg-status-json = Print the result as JSON
cli-arg-status-lang = Language of the output: fr or en (default: the terminal's)
cli-about-demo = Chat with the bot in the terminal (numbered buttons; scriptable through standard input)
cli-arg-demo-lang = Language of the client: fr or en (default: the terminal's)
cli-arg-demo-agent = Chat as an agent (merchant fields, /history)
cli-arg-demo-web = Serve the web chat instead, and print the address to open in a browser
cli-arg-demo-listen = Address of the web chat (with --web)
cli-about-serve = Run the bot on every configured channel (Telegram when TELOXIDE_TOKEN is set, WhatsApp when BILLBOT_WHATSAPP_TOKEN is)
cli-arg-serve-sandbox = Answer from the built-in sandbox (test data) when no provider is configured, as BILLBOT_SANDBOX=1 does; every reply then says it is test data
cli-about-sandbox = Serve both provider APIs, simulated, for trying billbot without a provider account
cli-arg-sandbox-listen = Address to listen on
cli-about-backup = Copy the sled store (BILLBOT_DATA_DIR) into a new directory, while the bot is stopped
cli-arg-backup-dir = Where the copy goes: a directory that does not exist yet, or is empty
cli-about-migrate-store = Copy a sled store into PostgreSQL (idempotent: running it again changes nothing)
cli-arg-migrate-store-from = The sled store: sled:DIR
cli-arg-migrate-store-to = The PostgreSQL database: postgres://user:password@host/database (default: BILLBOT_DATABASE_URL, which other users of the machine cannot read, as they can a command line)
cli-about-help = Print this message or the help of the given command(s)
cli-arg-help-subcommand = The command whose help to print
