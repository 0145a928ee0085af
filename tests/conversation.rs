//! Scripted conversations through the conversation core, in French and English, against the
//! sandbox over loopback: every flow and every error kind.

mod common;

use billbot::conversation::{Role, payload::MAX_PAYLOAD_BYTES};
use billbot::sandbox::fixtures::{orders, refs};
use common::chat::Harness;

#[tokio::test]
async fn start_greets_in_the_clients_language_with_the_main_menu() {
    let h = Harness::new().await;
    let mut fr = h.chat("fr", "fr-SN", Role::Customer);
    assert!(fr.say("/start").await.starts_with("Bonjour ! Je suis billbot."));
    for label in ["Consulter une facture", "Statut de commande", "Mes commandes", "Langue", "Aide"] {
        assert!(fr.has_button(label), "{label} in {:?}", fr.labels());
    }
    assert!(!fr.has_button("Historique"), "customers have no merchant history button");
    let mut en = h.chat("en", "en-US", Role::Customer);
    assert!(en.say("/start").await.starts_with("Hello! I'm billbot."));
    assert!(en.has_button("Check a bill") && en.has_button("Order status") && en.has_button("My orders"));
}

#[tokio::test]
async fn a_senelec_bill_flow_in_english_shows_every_bill_and_the_total_due() {
    let h = Harness::new().await;
    let mut c = h.chat("1", "en", Role::Customer);
    c.say("/start").await;
    assert_eq!(c.press("Check a bill").await, "Which biller?");
    let ask = c.press("Senelec").await;
    assert!(ask.contains("Senelec customer number (police): 6 to 14 digits"), "{ask}");
    let result = c.say("10-0000 0002").await;
    assert!(result.contains("Bill 3 of 3") && result.contains("State: already paid"), "{result}");
    let day = |offset| {
        billbot::i18n::format::date(
            billbot::i18n::Lang::En,
            chrono::Utc::now().date_naive() + chrono::Duration::days(offset),
        )
    };
    assert!(result.contains(&format!("Due date: {} (due in 9 days)", day(9))), "{result}");
    assert!(result.contains(&format!("Due date: {} (overdue by 21 days)", day(-21))), "{result}");
    assert!(result.contains(&format!("Due date: {}\n", day(-51))), "a paid bill's date alone: {result}");
    assert!(result.contains("Holder: Fatou N."));
    assert!(result.contains("To pay: 2 bills, 88,550 FCFA in total."), "{result}");
    assert!(c.has_button("Remind me") && c.has_button("Menu") && !c.has_button("Another number"));
    let paid = c.say(refs::ALL_PAID).await;
    assert!(paid.contains("Nothing to pay: every bill on this account is already paid."), "{paid}");
    assert!(c.has_button("Another number") && !c.has_button("Remind me"), "{:?}", c.labels());
    assert!(c.press("Another number").await.contains("Senelec customer number"));
}

#[tokio::test]
async fn a_seneau_bill_flow_in_french_asks_for_the_customer_reference() {
    let h = Harness::new().await;
    let mut c = h.chat("2", "fr", Role::Customer);
    c.say("/bill").await;
    let ask = c.press("SenEau").await;
    assert!(ask.contains("numéro SenEau (référence client) : 6 à 12 chiffres"), "{ask}");
    let result = c.say(refs::ONE_BILL).await;
    assert!(result.contains("Titulaire : Moussa D."), "{result}");
    assert!(result.contains("Total : 8\u{a0}600 FCFA"), "{result}");
    let due = billbot::i18n::format::date(
        billbot::i18n::Lang::Fr,
        chrono::Utc::now().date_naive() + chrono::Duration::days(9),
    );
    assert!(result.contains(&format!("Échéance : {due} (dans 9 jours)")), "{result}");
    assert!(result.contains("À payer : 1 facture, 8\u{a0}600 FCFA au total."), "{result}");
}

#[tokio::test]
async fn a_woyofal_meter_shows_status_address_holder_and_that_the_amount_is_chosen_at_payment() {
    let h = Harness::new().await;
    for (lang, expect) in [
        ("en", ["Meter status: active", "Address: …, Dakar", "you choose the amount when you pay"]),
        ("fr", ["État du compteur : actif", "Adresse : …, Dakar", "vous choisissez le montant"]),
    ] {
        let mut c = h.chat(lang, lang, Role::Customer);
        c.say("/bill").await;
        let ask = c.press("Woyofal").await;
        assert!(ask.contains("11") && ask.contains("13"), "{ask}");
        let result = c.say(refs::METER).await;
        for e in expect {
            assert!(result.contains(e), "{lang}: {e:?} in {result}");
        }
        assert!(!result.contains("Keur") && !result.contains("Villa 12"), "masked for customers: {result}");
    }
    // Agents see holders and addresses whole.
    let mut agent = h.chat("agent", "en", Role::Agent);
    agent.say("/bill").await;
    agent.press("Woyofal").await;
    let result = agent.say(refs::METER).await;
    assert!(result.contains("Address: Cité Keur Gorgui, Villa 12, Dakar"), "{result}");
    agent.say("/bill").await;
    agent.press("Senelec").await;
    assert!(agent.say(refs::ONE_BILL).await.contains("Holder: Moussa Diop"));
}

#[tokio::test]
async fn a_wrong_reference_is_explained_and_the_step_stays_without_calling_the_provider() {
    let h = Harness::new().await;
    // Stop the sandbox: a provider call would now answer "unavailable", never the format error.
    let Harness { bot, sandbox, dir } = h;
    drop(sandbox);
    let h = Harness { bot, sandbox: common::sandbox().await, dir };
    let mut c = h.chat("3", "en", Role::Customer);
    c.say("/bill").await;
    c.press("Woyofal").await;
    let text = c.say("1234").await;
    assert_eq!(
        text,
        "A Woyofal meter number has 11 to 13 digits; this one has 4. Please check it and type it again."
    );
    assert!(c.has_button("Change biller"));
    let text = c.say("14O00000001").await;
    assert!(text.contains("only digits") && text.contains("“O”"), "{text}");
    // Still waiting for a meter number: a good one is sent to the (stopped) provider.
    let text = c.say("140 0000 0001").await;
    assert!(text.contains("not answering right now"), "only now is the provider called: {text}");
}

#[tokio::test]
async fn every_inquiry_error_fixture_gets_a_helpful_answer_with_a_way_forward() {
    let h = Harness::new().await;
    let cases = [
        (refs::NOT_FOUND, "found no bill", false),
        (refs::UNAUTHORIZED, "not answering right now", true),
        (refs::MAINTENANCE, "under maintenance", true),
        (refs::SERVER_ERROR, "not answering right now", true),
        (refs::GARBAGE, "could not be read", true),
        (refs::SLOW, "not answering right now", true),
    ];
    for (reference, expect, retry) in cases {
        let mut c = h.chat(reference, "en", Role::Customer);
        c.say("/bill").await;
        c.press("SenEau").await;
        let text = c.say(reference).await;
        assert!(text.contains(expect), "{reference}: {text}");
        assert!(text.contains("You can type another customer reference."), "{text}");
        assert_eq!(c.has_button("Try again"), retry, "{reference}: {:?}", c.labels());
        assert!(c.has_button("Another number") && c.has_button("Menu"));
        if retry {
            assert!(c.press("Try again").await.contains(expect), "trying again calls again");
        }
        // Still in the step: a good reference works right away.
        assert!(c.say(refs::ONE_BILL).await.contains("Moussa D."));
    }
    let mut fr = h.chat("fr-errors", "fr", Role::Customer);
    fr.say("/bill").await;
    fr.press("Senelec").await;
    assert!(fr.say(refs::MAINTENANCE).await.contains("Le service est en maintenance."));
    assert!(fr.has_button("Réessayer"));
}

#[tokio::test]
async fn an_order_number_typed_at_the_menu_in_any_form_shows_its_status() {
    let h = Harness::new().await;
    let mut c = h.chat("4", "en", Role::Customer);
    c.say("/start").await;
    for typed in ["GB - 202206132206791818205", "gb-202206132206791818205", "202206132206791818205"] {
        let text = c.say(typed).await;
        assert!(text.contains("Order GB - 202206132206791818205"), "{typed}: {text}");
        assert!(text.contains("Status: ✅ delivered") && text.contains("Amount: 500 FCFA"), "{text}");
        assert!(text.contains("Recipient: •••••••0008"), "masked for customers: {text}");
        assert!(!text.contains("Wallet") && !text.contains("Discount"), "no merchant fields: {text}");
        assert!(!c.has_button("Refresh"), "a final status needs no refresh");
    }
}

#[tokio::test]
async fn the_menu_and_the_reference_step_read_every_kind_of_dash_alike() {
    let h = Harness::new().await;
    let mut c = h.chat("dashes", "en", Role::Customer);
    c.say("/start").await;
    for typed in ["GB \u{2014} 202206132206791818205", "gb\u{FF0D}2022 0613 2206 7918 18205"] {
        let text = c.say(typed).await;
        assert!(text.contains("Order GB - 202206132206791818205"), "{typed:?}: {text}");
    }
    c.say("/start").await;
    assert_eq!(c.say("1000\u{2013}000001").await, "Which biller is 1000000001 for?");
    // Where a reference is awaited, a number with the prefix is an order, whatever its dash.
    c.say("/bill").await;
    c.press("Senelec").await;
    let text = c.say("GB \u{2212} 202206132206791818205").await;
    assert!(text.contains("Order GB - 202206132206791818205"), "{text}");
}

#[tokio::test]
async fn a_pending_order_offers_a_refresh_and_statuses_read_in_french() {
    let h = Harness::new().await;
    let mut c = h.chat("5", "fr", Role::Customer);
    let text = c.say(&format!("/status {}", orders::PENDING)).await;
    assert!(text.contains("Statut : ⏳ en cours") && text.contains("Touchez Actualiser"), "{text}");
    assert!(c.press("Actualiser").await.contains("⏳ en cours"));
    let cases = [
        (orders::SUCCESS_WITH_TOKEN, "✅ livrée"),
        (orders::FAILED, "❌ échouée"),
        (orders::REFUNDED, "↩️ remboursée"),
        (orders::DELIVERED_BUT_REFUNDED, "↩️ remboursée"),
        (orders::UNKNOWN_STATUS, "❔ non reconnu (« ON_HOLD »)"),
    ];
    for (number, status) in cases {
        let text = c.say(&format!("/status GB - {number}")).await;
        assert!(text.contains(status), "{number}: {text}");
    }
    let failed = c.say(&format!("/status {}", orders::FAILED)).await;
    assert!(failed.contains("Compteur bloqué"), "a failure says why: {failed}");
}

#[tokio::test]
async fn order_errors_are_answers_with_a_way_forward() {
    let h = Harness::new().await;
    let mut c = h.chat("6", "en", Role::Customer);
    c.say("/status").await;
    let text = c.say("GB - 12").await;
    assert!(text.contains("12 to 32 digits"), "{text}");
    let text = c.say(orders::UNKNOWN).await;
    assert!(text.contains("No order GB - 202611200899999999999 was found"), "{text}");
    assert!(!c.has_button("Try again"));
    for (number, expect) in [
        (orders::MAINTENANCE, "under maintenance"),
        (orders::SERVER_ERROR, "not answering"),
        (orders::GARBAGE, "could not be read"),
        (orders::SLOW, "not answering"),
    ] {
        let text = c.say(number).await;
        assert!(text.contains(expect) && c.has_button("Try again"), "{number}: {text}");
    }
    // Still waiting for an order number.
    assert!(c.say(orders::PENDING).await.contains("pending"));
}

#[tokio::test]
async fn an_order_number_typed_where_a_reference_is_expected_can_be_checked_in_one_tap() {
    let h = Harness::new().await;
    let mut c = h.chat("order-at-reference", "fr", Role::Customer);
    c.say("/bill").await;
    c.press("Senelec").await;
    let text = c.say("202206132206791818205").await;
    assert!(text.contains("6 à 14 chiffres"), "the reference rule is still explained: {text}");
    assert!(c.press("numéro de commande").await.contains("Commande GB - 202206132206791818205"));
    c.say("/bill").await;
    c.press("Senelec").await;
    c.say("123456789012345").await;
    assert!(c.has_button("numéro de commande"), "15 digits: a reference too long, or an order");
    c.say("12").await;
    assert!(!c.has_button("numéro de commande"), "too short to be an order: {:?}", c.labels());
}

#[tokio::test]
async fn digits_typed_at_the_menu_ask_which_biller_or_whether_it_is_an_order() {
    let h = Harness::new().await;
    let mut c = h.chat("7", "en", Role::Customer);
    c.say("/start").await;
    let text = c.say("1000000001").await;
    assert_eq!(text, "Which biller is 1000000001 for?");
    assert!(c.has_button("SenEau") && c.has_button("Senelec") && !c.has_button("Woyofal"));
    assert!(!c.has_button("order number"), "10 digits cannot be an order");
    assert!(c.press("Senelec").await.contains("Moussa D."));
    c.say("/start").await;
    c.say("140000000010").await;
    assert!(c.has_button("Woyofal") && c.has_button("It's an order number"), "{:?}", c.labels());
    assert!(c.press("It's an order number").await.contains("No order GB - 140000000010"));
    c.say("/start").await;
    let text = c.say("what is this").await;
    assert!(text.contains("I didn't understand that"), "{text}");
    // A greeting, whatever follows it, is a hello.
    assert!(c.say("hello there").await.contains("Hello! I'm billbot"));
}

#[tokio::test]
async fn my_orders_lists_lookups_and_orders_newest_first_re_checkable_and_paginated() {
    let h = Harness::new().await;
    let mut c = h.chat("8", "en", Role::Customer);
    assert!(c.say("/orders").await.contains("no orders or bill lookups yet"));
    c.say("/bill").await;
    c.press("Senelec").await;
    c.say(refs::ONE_BILL).await;
    c.say(&format!("/status {}", orders::PENDING)).await;
    let list = c.say("/orders").await;
    let order_at = list.find("1. Order GB - 202611200800000000001 · ⏳ pending").expect(&list);
    let lookup_at = list.find("2. Senelec 1000000001").expect(&list);
    assert!(order_at < lookup_at);
    assert!(c.press("🔄 2").await.contains("Moussa D."), "re-check a lookup with one tap");
    c.say("/orders").await;
    assert!(c.say("/orders").await.starts_with("Your orders"));
    assert!(c.press("🔄 1").await.contains("Senelec"), "the lookup just re-checked is now newest");
    for number in
        [orders::SUCCESSFUL, orders::FAILED, orders::REFUNDED, orders::PROCESSING, orders::UNKNOWN_STATUS]
    {
        c.say(&format!("/status {number}")).await;
    }
    let first = c.say("/orders").await;
    assert!(first.contains("(page 1 of 2)") && first.contains("5. "), "{first}");
    assert!(!first.contains("6. "));
    let second = c.press("Older").await;
    assert!(second.contains("(page 2 of 2)") && second.contains("6. ") && second.contains("7. "), "{second}");
    assert!(c.has_button("Newer") && !c.has_button("Older"));
}

#[tokio::test]
async fn lang_switches_and_the_choice_beats_the_client_language() {
    let h = Harness::new().await;
    let mut c = h.chat("9", "en", Role::Customer);
    let text = c.say("/lang").await;
    assert_eq!(text, "Choose your language:");
    assert!(c.has_button("Français") && c.has_button("English"));
    assert!(c.press("Français").await.starts_with("Langue : français."));
    assert!(c.say("/help").await.contains("Voici ce que je sais faire"), "kept, though the client says en");
    assert!(c.say("/lang en").await.starts_with("Language: English."));
    c.say("/lang xx").await;
    assert!(c.has_button("Français"), "an unknown code shows the choice");
    assert!(c.say("français").await.starts_with("Langue : français."));
}

#[tokio::test]
async fn cancel_leaves_any_step_and_help_and_unknown_commands_answer() {
    let h = Harness::new().await;
    let mut c = h.chat("10", "en", Role::Customer);
    c.say("/bill").await;
    c.press("Woyofal").await;
    assert!(c.say("/cancel").await.starts_with("Cancelled."));
    assert!(c.has_button("Check a bill"));
    assert!(c.say("abc").await.contains("didn't understand"), "back at the menu, not in the meter step");
    let help = c.say("/help").await;
    for command in ["/bill", "/status", "/orders", "/lang", "/cancel", "/help"] {
        assert!(help.contains(command), "{command} in {help}");
    }
    assert!(!help.contains("/history"));
    let unknown = c.say("/pay@billbot_bot now").await;
    assert!(unknown.starts_with("I don't know the command /pay."), "{unknown}");
}

#[tokio::test]
async fn agents_see_merchant_fields_and_page_through_history_customers_are_refused() {
    let h = Harness::new().await;
    let mut customer = h.chat("11", "fr", Role::Customer);
    let refused = customer.say("/history").await;
    assert!(refused.contains("réservé aux agents"), "{refused}");
    let mut agent = h.chat("12", "en", Role::Agent);
    agent.say("/start").await;
    assert!(agent.has_button("Merchant history"));
    let text = agent.say("/status GB - 202206132206791818205").await;
    assert!(
        text.contains("Recipient: 07025150008") && text.contains("Wallet balance: 95,758.28 FCFA"),
        "{text}"
    );
    assert!(agent.say("/help").await.contains("/history"));
    let page = agent.say("/history").await;
    assert!(page.contains("(page 1 of 7, 52 in all)"), "{page}");
    assert!(page.contains("1. GB - 202611200800000000001") && page.contains("8. "), "{page}");
    let page2 = agent.press("Older").await;
    assert!(page2.contains("9. ") && page2.contains("(page 2 of 7"), "{page2}");
    let opened = agent.press("9").await;
    assert!(opened.contains("Merchant details"), "{opened}");
    let last = agent.press_payload("v1:h:99").await;
    assert!(last.contains("(page 7 of 7") && last.contains("52. "), "pages beyond the end clamp: {last}");
}

#[tokio::test]
async fn stale_unknown_and_forged_buttons_get_a_fresh_menu() {
    let h = Harness::new().await;
    let mut c = h.chat("13", "fr", Role::Customer);
    for payload in
        ["v0:b:senelec", "v1:zz", "v1:q:senelec:12AB", "v1:s:GBX", "garbage", "", "v1:b:senelec:extra"]
    {
        let text = c.press_payload(payload).await;
        assert!(text.starts_with("Ce menu a expiré."), "{payload:?}: {text}");
        assert!(c.has_button("Consulter une facture"));
    }
}

#[tokio::test]
async fn button_payloads_stay_under_64_bytes_and_no_reply_shows_a_raw_message_id() {
    let h = Harness::new().await;
    let ids = common::locale_ids();
    for lang in ["fr", "en"] {
        let mut c = h.chat(&format!("ids-{lang}"), lang, Role::Agent);
        let script = [
            "/start",
            "/bill",
            "/help",
            "/orders",
            "/lang",
            "/status",
            "GB - 12",
            orders::PENDING,
            "/history",
            "1000000001",
            "/cancel",
            "hello",
            "/nope",
            "/status 99999999999999999999999999999999",
        ];
        for line in script {
            c.say(line).await;
            check(&c, &ids);
        }
        for (biller, reference) in [("SenEau", refs::SEVERAL_BILLS), ("Woyofal", refs::METER_SPECIAL)] {
            c.say("/bill").await;
            c.press(biller).await;
            c.say(reference).await;
            check(&c, &ids);
            c.say(refs::SERVER_ERROR).await;
            check(&c, &ids);
        }
    }

    fn check(c: &common::chat::Chat, ids: &[String]) {
        for reply in &c.last {
            for button in reply.buttons() {
                assert!(button.payload.len() <= MAX_PAYLOAD_BYTES, "{button:?}");
                assert!(!ids.contains(&button.label), "raw id as a label: {button:?}");
            }
            for id in ids {
                assert!(!reply.text.contains(id.as_str()), "raw message id {id} in {:?}", reply.text);
            }
        }
    }
}

#[tokio::test]
async fn a_slow_provider_in_one_chat_does_not_hold_up_another_chat() {
    let sb = billbot::sandbox::spawn_on_loopback(billbot::sandbox::SandboxConfig {
        slow: std::time::Duration::from_secs(3),
        ..Default::default()
    })
    .await
    .unwrap();
    let mut http = common::fast_http();
    http.timeout = std::time::Duration::from_secs(10);
    let inquiry = billbot::upstream::InquiryClient::new(
        sb.inquiry_url(),
        billbot::sandbox::INQUIRY_KEY.to_owned().into(),
        http.clone(),
    )
    .unwrap();
    let (_, status) = common::sandbox_clients(&sb);
    let dir = tempfile::tempdir().unwrap();
    let bot =
        billbot::conversation::Bot::new(inquiry, status, billbot::store::Store::open(dir.path()).unwrap());
    let h = Harness { bot, sandbox: sb, dir };
    let mut slow = h.chat("slow", "en", Role::Customer);
    let mut quick = h.chat("quick", "en", Role::Customer);
    slow.say("/bill").await;
    slow.press("Senelec").await;
    let slow_call = tokio::spawn(async move { slow.say(refs::SLOW).await });
    tokio::task::yield_now().await;
    assert!(quick.say(refs::ONE_BILL).await.contains("Which biller"));
    assert!(quick.press("Senelec").await.contains("Moussa D."));
    assert!(quick.say(&format!("/status {}", orders::PENDING)).await.contains("pending"));
    assert!(!slow_call.is_finished(), "the other chat was served while the slow call was still waiting");
    slow_call.abort();
}

#[tokio::test]
async fn a_reference_is_saved_named_listed_first_rechecked_renamed_and_deleted() {
    let h = Harness::new().await;
    let mut c = h.chat("saved", "fr", Role::Customer);
    c.say("/bill").await;
    c.press("Senelec").await;
    c.say(refs::ONE_BILL).await;
    let asked = c.press("Garder ce numéro").await;
    assert!(asked.contains("Enregistré") && asked.contains("Donnez-lui un nom"), "{asked}");
    assert!(
        c.say("  Maison <Dakar> & co  ")
            .await
            .starts_with("⭐ Enregistré sous le nom « Maison <Dakar> & co ».")
    );

    let choose = c.say("/bill").await;
    assert!(choose.starts_with("Vos numéros enregistrés sont en tête"), "{choose}");
    let labels = c.labels();
    assert_eq!(labels[0], "⭐ Maison <Dakar> & co · Senelec ••••••0001", "first, masked: {labels:?}");
    assert!(c.press("Maison").await.contains("Moussa D."), "one tap re-checks it");

    c.say("/bill").await;
    c.press("Woyofal").await;
    c.say(refs::METER).await;
    c.press("Garder ce numéro").await;
    c.press("Passer").await;
    c.say("/bill").await;
    assert_eq!(c.labels()[1], "⭐ Woyofal •••••••0001", "unnamed: biller and masked number");

    let list = c.press("Gérer").await;
    assert!(list.contains("1. Maison <Dakar> & co · Senelec") && list.contains("2. Woyofal"), "{list}");
    c.press("Renommer 1").await;
    assert!(c.say("Boutique").await.contains("« Boutique »"));
    c.say("/bill").await;
    c.press("Gérer").await;
    let after = c.press("Supprimer 2").await;
    assert!(after.starts_with("🗑 •••••••0001 n'est plus enregistré."), "{after}");
    assert!(after.contains("1. Boutique · Senelec") && !after.contains("2."), "{after}");

    let mut other = h.chat("someone-else", "en", Role::Customer);
    other.say("/bill").await;
    assert!(!other.labels().iter().any(|l| l.contains("Boutique")), "saved numbers are per chat");
}

#[tokio::test]
async fn a_number_typed_after_a_bill_is_checked_with_the_same_biller_with_a_way_to_another() {
    let h = Harness::new().await;
    let mut c = h.chat("after-bill", "en", Role::Customer);
    c.say("/bill").await;
    c.press("Senelec").await;
    let first = c.say(refs::ONE_BILL).await;
    assert!(first.contains("To check another Senelec number, just type it."), "{first}");
    let second = c.say(refs::SEVERAL_BILLS).await;
    assert!(second.starts_with("Senelec, customer number (police) 1000000002"), "{second}");
    assert!(second.contains("Bill 3 of 3"), "{second}");
    assert!(c.has_button("Another biller"), "{:?}", c.labels());
    let which = c.press("Another biller").await;
    assert!(which.starts_with("Which biller is 1000000002 for?"), "{which}");
    assert!(c.has_button("SenEau") && !c.has_button("Senelec"), "{:?}", c.labels());
    let seneau = c.press("SenEau").await;
    assert!(seneau.starts_with("SenEau, customer reference 1000000002"), "{seneau}");

    // A number the biller does not take is understood as at the menu.
    let mut w = h.chat("after-meter", "fr", Role::Customer);
    w.say("/bill").await;
    w.press("Woyofal").await;
    assert!(w.say(refs::METER).await.contains("Pour consulter un autre numéro Woyofal"));
    let which = w.say(refs::ONE_BILL).await;
    assert!(which.starts_with("Pour quel facturier est le numéro 1000000001 ?"), "{which}");
    w.say("/bill").await;
    w.press("Woyofal").await;
    let meter = w.say(refs::METER_SPECIAL).await;
    assert!(meter.starts_with("Woyofal"), "{meter}");
    // Senelec also takes an 11-digit number.
    assert!(w.say(refs::METER).await.starts_with("Woyofal") && w.has_button("Autre facturier"));
    assert_eq!(
        w.press("Autre facturier").await.lines().next(),
        Some("Pour quel facturier est le numéro 14000000001 ?")
    );
    assert!(w.has_button("Senelec") && !w.has_button("Woyofal"), "{:?}", w.labels());
    // Words are not numbers: the menu answers.
    assert!(w.say("quoi ?").await.contains("Je n'ai pas compris"), "{}", w.text());
}
