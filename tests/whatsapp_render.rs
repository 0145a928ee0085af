//! Replies fitted to WhatsApp's rules by the renderer, without the network.

use billbot::channels::whatsapp::render::{self, MAX_INTERACTIVE_BODY, MAX_ROWS, MAX_TEXT, Outgoing};
use billbot::conversation::{Button, Reply};
use billbot::i18n::Lang;

fn units(text: &str) -> usize {
    text.encode_utf16().count()
}

fn buttons(labels: &[&str]) -> Vec<Vec<Button>> {
    vec![
        labels
            .iter()
            .enumerate()
            .map(|(i, l)| Button { label: l.to_string(), payload: format!("v1:o:{i}") })
            .collect(),
    ]
}

#[test]
fn three_short_choices_are_reply_buttons_and_the_heading_is_bold() {
    let reply = Reply::text("Heading\nbody").with_keyboard(buttons(&[
        "🔄 Try again",
        "🔁 Another number",
        "🏠 Menu",
    ]));
    let out = render::messages(&reply, Lang::En);
    assert_eq!(out.len(), 1);
    let Outgoing::Buttons { body, buttons } = &out[0] else { panic!("{out:?}") };
    assert_eq!(body, "*Heading*\nbody");
    assert_eq!(
        buttons.iter().map(|(_, t)| t.as_str()).collect::<Vec<_>>(),
        ["🔄 Try again", "🔁 Another number", "🏠 Menu"]
    );
}

#[test]
fn four_choices_or_long_labels_make_a_list_whose_rows_keep_the_whole_label() {
    let long = "⭐ Maison Dakar Plateau · Senelec ••••0001";
    let reply = Reply::text("Pick").with_keyboard(buttons(&[long, "b", "c", "d"]));
    let out = render::messages(&reply, Lang::Fr);
    let Outgoing::List { button, rows, .. } = &out[0] else { panic!("{out:?}") };
    assert_eq!(button, "Choisir");
    assert!(units(&rows[0].title) <= 24 && rows[0].title.ends_with('…'), "{:?}", rows[0]);
    assert_eq!(rows[0].description.as_deref(), Some(long), "the whole label, in the description");
    assert_eq!(rows[1].description, None);
}

#[test]
fn more_choices_than_a_list_holds_go_out_as_pages_of_ten() {
    let labels: Vec<String> = (1..=23).map(|n| format!("Choice {n}")).collect();
    let refs: Vec<&str> = labels.iter().map(String::as_str).collect();
    let reply = Reply::text("Many").with_keyboard(buttons(&refs));
    let out = render::messages(&reply, Lang::En);
    assert_eq!(out.len(), 3);
    let mut ids = Vec::new();
    for (n, message) in out.iter().enumerate() {
        let Outgoing::List { body, rows, .. } = message else { panic!("{message:?}") };
        assert!(rows.len() <= MAX_ROWS);
        if n > 0 {
            assert_eq!(body, &format!("More choices ({}/3):", n + 1));
        }
        ids.extend(rows.iter().map(|r| r.id.clone()));
    }
    assert_eq!(ids.len(), 23, "every choice is offered once");
}

#[test]
fn a_long_reply_with_choices_sends_its_text_first_and_a_body_within_1024() {
    let paragraphs: Vec<String> =
        (1..=40).map(|n| format!("Bill {n}\nAmount: 12,500 FCFA\nDue: 15 Dec 2026")).collect();
    let text = format!("Heading\n\n{}\n\nTotal due: 500,000 FCFA", paragraphs.join("\n\n"));
    let reply = Reply::text(text.clone()).with_keyboard(buttons(&["Save", "Menu"]));
    let out = render::messages(&reply, Lang::En);
    let (last, lead) = out.split_last().unwrap();
    let Outgoing::Buttons { body, .. } = last else { panic!("{last:?}") };
    assert!(units(body) <= MAX_INTERACTIVE_BODY, "{}", units(body));
    assert!(body.ends_with("Total due: 500,000 FCFA"), "the end of the reply carries the choices");
    let mut shown = String::new();
    for message in lead {
        let Outgoing::Text(t) = message else { panic!("{message:?}") };
        assert!(units(t) <= MAX_TEXT);
        shown.push_str(t);
    }
    assert!(shown.starts_with("*Heading*"), "{}", &shown[..40]);
    assert!(shown.contains("Bill 1\n") && !shown.contains("Total due"), "nothing lost, nothing twice");
}

#[test]
fn a_reply_over_4096_characters_without_choices_is_split_at_line_breaks() {
    let text = (0..600).map(|n| format!("line {n:04}")).collect::<Vec<_>>().join("\n");
    let out = render::messages(&Reply::text(text), Lang::En);
    assert!(out.len() >= 2);
    let mut lines = 0;
    for message in &out {
        let Outgoing::Text(t) = message else { panic!() };
        assert!(units(t) <= MAX_TEXT);
        lines += t.lines().count();
    }
    assert_eq!(lines, 600);
}

#[test]
fn formatting_characters_in_text_become_look_alikes() {
    assert_eq!(render::neutralize("*Awa_* ~x~ `y`"), "∗Awaˍ∗ ∼x∼ ˋyˋ");
    let out = render::messages(&Reply::text("Holder: *bold* _it_"), Lang::En);
    let Outgoing::Text(t) = &out[0] else { panic!() };
    assert_eq!(t, "*Holder: ∗bold∗ ˍitˍ*");
}

#[test]
fn the_graph_json_of_each_kind_carries_what_whatsapp_reads() {
    let reply = Reply::text("Pick").with_keyboard(buttons(&["a", "b"]));
    let json = render::messages(&reply, Lang::En)[0].to_json();
    assert_eq!(json["type"], "interactive");
    assert_eq!(json["interactive"]["type"], "button");
    assert_eq!(json["interactive"]["action"]["buttons"][1]["reply"]["id"], "v1:o:1");
    let template =
        Outgoing::Template { name: "order_update".into(), lang: Lang::Fr, params: vec!["GB - 1".into()] };
    let json = template.to_json();
    assert_eq!(json["template"]["language"]["code"], "fr");
    assert_eq!(json["template"]["components"][0]["parameters"][0]["text"], "GB - 1");
    assert!(!template.is_free_form());
}
