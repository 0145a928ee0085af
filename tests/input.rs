//! What a typed message means: slash commands, and the words WhatsApp users type instead.

use billbot::conversation::Input;

fn command(name: &str, arg: Option<&str>) -> Input {
    Input::Command { name: name.to_owned(), arg: arg.map(str::to_owned) }
}

#[test]
fn keywords_in_french_and_english_do_what_the_commands_do_in_any_case_and_without_accents() {
    let cases = [
        ("AIDE", command("help", None)),
        ("help", command("help", None)),
        ("Facture", command("bill", None)),
        ("bill", command("bill", None)),
        ("Menu", command("menu", None)),
        ("Démarrer", command("start", None)),
        ("demarrer", command("start", None)),
        ("  hello!  ", command("start", None)),
        ("Bonjour, je veux payer ma facture", command("start", None)),
        ("Annuler.", command("cancel", None)),
        ("cancel", command("cancel", None)),
        ("commandes", command("orders", None)),
        ("Langue en", command("lang", Some("en"))),
        ("language", command("lang", None)),
        ("Statut GB - 202206132206791818205", command("status", Some("GB - 202206132206791818205"))),
        ("status 202206132206791818205", command("status", Some("202206132206791818205"))),
        // The status is asked for, without a number: the bot asks for it.
        ("statut de ma commande", command("status", None)),
    ];
    for (typed, expected) in cases {
        assert_eq!(Input::from_text(typed), expected, "{typed:?}");
    }
}

#[test]
fn sentences_that_start_with_a_keyword_stay_text_and_slash_commands_still_work() {
    assert_eq!(Input::from_text("menu du jour"), Input::Text("menu du jour".into()));
    assert_eq!(Input::from_text("aide moi"), Input::Text("aide moi".into()));
    assert_eq!(Input::from_text("1000000001"), Input::Text("1000000001".into()));
    assert_eq!(Input::from_text("/help@billbot_bot"), command("help", None));
    assert_eq!(Input::from_text("/status GB - 1"), command("status", Some("GB - 1")));
    assert_eq!(Input::from_text("/"), Input::Text("/".into()));
}

#[test]
fn inputs_survive_the_store_as_json() {
    for input in [command("status", Some("GB - 1")), Input::Text("hé".into()), Input::Button("v1:m".into())]
    {
        let json = serde_json::to_string(&input).unwrap();
        assert_eq!(serde_json::from_str::<Input>(&json).unwrap(), input);
    }
}
