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
