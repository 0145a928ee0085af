cli-error = billbot: { $message }
cli-config-error = configuration error: { $detail }
cli-start-error = could not start: { $detail }
cli-listen-error = cannot listen on { $addr }: { $detail }
cli-embedded-sandbox = No provider URL configured: using the built-in sandbox at http://{ $addr } (set BILLBOT_INQUIRY_URL and BILLBOT_STATUS_URL to use real providers).
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
cli-migrate-to = --to must be a PostgreSQL URL: postgres://user:password@host:5432/database.
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
cli-backup-not-empty = { $dir } already holds files: give a new or empty directory.
cli-backup-done = The store in { $from } is copied to { $to }. To restore it, stop billbot and start it with BILLBOT_DATA_DIR={ $to }.
