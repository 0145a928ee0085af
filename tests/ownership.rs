//! An order number is not a password: the first customer chat to look an order up owns it; other
//! chats see its status without the code bought, cannot ask to be notified, and become owners
//! only by typing the recipient's last 4 digits (5 wrong tries a day per chat, 15 per order). An
//! order whose owners are gone is nobody's to take: every chat proves the digits.

mod common;

use std::sync::Arc;

use billbot::conversation::{Action, Bot, ChatKey, Incoming, Input, Reply, Role};
use billbot::domain::OrderNo;
use billbot::sandbox::fixtures::orders;
use billbot::store::Store;
use billbot::tracking::{Tracker, TrackerConfig};
use common::{sandbox, sandbox_clients};

struct Setup {
    bot: Bot,
    store: Store,
    _sandbox: billbot::sandbox::RunningSandbox,
    _dir: tempfile::TempDir,
}

async fn setup() -> Setup {
    let sb = sandbox().await;
    let (inquiry, status) = sandbox_clients(&sb);
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let tracker = Arc::new(Tracker::new(status.clone(), store.clone(), TrackerConfig::default()));
    let bot = Bot::with_tracker(inquiry, status, store.clone(), tracker);
    Setup { bot, store, _sandbox: sb, _dir: dir }
}

struct User<'a> {
    bot: &'a Bot,
    key: ChatKey,
    lang: &'static str,
    role: Role,
    last: Vec<Reply>,
}

impl<'a> User<'a> {
    fn new(s: &'a Setup, id: &str, lang: &'static str, role: Role) -> User<'a> {
        User { bot: &s.bot, key: ChatKey::terminal(id), lang, role, last: vec![] }
    }

    async fn send(&mut self, input: Input) -> String {
        let incoming = Incoming::new(self.key.clone(), input).lang_code(self.lang).role(self.role);
        self.last = self.bot.handle(incoming).await;
        assert!(!self.last.is_empty(), "never silent");
        self.last.iter().map(|r| r.text.as_str()).collect::<Vec<_>>().join("\n")
    }

    async fn say(&mut self, text: &str) -> String {
        self.send(Input::from_text(text)).await
    }

    fn button(&self, label: &str) -> Option<String> {
        self.last
            .iter()
            .flat_map(|r| r.buttons())
            .find(|b| b.label.contains(label))
            .map(|b| b.payload.clone())
    }

    async fn press(&mut self, label: &str) -> String {
        let payload = self.button(label).unwrap_or_else(|| panic!("no {label:?} in {:#?}", self.last));
        self.send(Input::Button(payload)).await
    }
}

const CODE: &str = "1234 5678 9012 3456 7890";

#[tokio::test]
async fn the_first_chat_owns_an_order_others_see_no_code_and_cannot_be_notified() {
    let s = setup().await;
    let mut owner = User::new(&s, "owner", "en", Role::Customer);
    let mut other = User::new(&s, "other", "en", Role::Customer);
    let mut autre = User::new(&s, "autre", "fr", Role::Customer);
    let mut agent = User::new(&s, "agent", "en", Role::Agent);

    let seen = owner.say(&format!("/status {}", orders::SUCCESS_WITH_TOKEN)).await;
    assert!(seen.contains(CODE) && seen.contains("Receipt"), "{seen}");
    let stranger = other.say(&format!("/status GB{}", orders::SUCCESS_WITH_TOKEN)).await;
    assert!(!stranger.contains(CODE) && !stranger.contains("Receipt"), "{stranger}");
    assert!(
        stranger.contains("delivered") && stranger.contains("10,000 FCFA"),
        "the status still shows: {stranger}"
    );
    assert!(stranger.contains("shown only in the chat that placed this order"), "{stranger}");
    assert!(
        !stranger.contains("0001") && !stranger.contains("Recipient"),
        "nothing that gives the proof away"
    );
    assert!(!stranger.contains("Recharge Woyofal"), "nor the provider's message");
    assert!(other.button("My order").is_some());
    let fr = autre.say(&format!("/status {}", orders::SUCCESS_WITH_TOKEN)).await;
    assert!(fr.contains("Le code acheté n'est affiché que dans la discussion") && !fr.contains(CODE), "{fr}");
    assert!(autre.button("Ma commande").is_some());
    let agent_view = agent.say(&format!("/status {}", orders::SUCCESS_WITH_TOKEN)).await;
    assert!(agent_view.contains(CODE) && agent_view.contains("14000000001"), "agents see all: {agent_view}");
    assert!(agent.button("My order").is_none());
    let again = owner.say(&format!("/status {}", orders::SUCCESS_WITH_TOKEN)).await;
    assert!(again.contains(CODE), "the owner still does: {again}");

    // A pending order: only its owner is offered "Notify me"; a forged button changes nothing.
    owner.say(&format!("/status {}", orders::PENDING)).await;
    assert!(owner.button("Notify me").is_some());
    other.say(&format!("/status {}", orders::PENDING)).await;
    assert!(other.button("Notify me").is_none() && other.button("Refresh").is_some());
    // Even signed for the chat, as the bot signs its own buttons: the order is checked.
    let forged = Action::Watch(OrderNo::parse(orders::PENDING).unwrap());
    let forged = other.send(Input::Button(s.bot.payload(&other.key, &forged).await.unwrap())).await;
    assert!(forged.contains("Only the chat that placed an order can be notified"), "{forged}");
    let pending = OrderNo::parse(orders::PENDING).unwrap();
    assert!(s.store.watch(&pending).await.unwrap().is_none(), "no watch was started");
    owner.press("Notify me").await;
    let watch = s.store.watch(&pending).await.unwrap().unwrap();
    assert_eq!(watch.watchers.iter().map(|w| w.chat.clone()).collect::<Vec<_>>(), vec![owner.key.clone()]);
    let record = s.store.order(&OrderNo::parse(orders::SUCCESS_WITH_TOKEN).unwrap()).await.unwrap().unwrap();
    assert_eq!(record.owners, vec![owner.key.clone()], "agents and strangers never own it");
}

#[tokio::test]
async fn the_recipients_last_4_digits_make_a_chat_an_owner_and_5_wrong_tries_lock_the_guesser_for_a_day() {
    let s = setup().await;
    let mut owner = User::new(&s, "owner", "en", Role::Customer);
    let mut other = User::new(&s, "other", "en", Role::Customer);
    let mut guesser = User::new(&s, "guesser", "fr", Role::Customer);
    owner.say(&format!("/status {}", orders::SUCCESS_WITH_TOKEN)).await;
    other.say(&format!("/status {}", orders::SUCCESS_WITH_TOKEN)).await;

    let ask = other.press("My order").await;
    assert!(ask.contains("type the last 4 digits"), "{ask}");
    let format = other.say("12").await;
    assert!(format.contains("exactly 4 digits"), "{format}");
    let wrong = other.say("9999").await;
    assert!(wrong.contains("do not match") && wrong.contains("4 more tries today"), "{wrong}");
    let proven = other.say("0 0 0 1").await;
    assert!(proven.contains("now linked to your chat") && proven.contains(CODE), "{proven}");
    assert!(other.button("Notify me").is_none(), "a delivered order has nothing to wait for");
    let later = other.say(&format!("/status {}", orders::SUCCESS_WITH_TOKEN)).await;
    assert!(later.contains(CODE), "owner from now on: {later}");
    let no = OrderNo::parse(orders::SUCCESS_WITH_TOKEN).unwrap();
    let record = s.store.order(&no).await.unwrap().unwrap();
    assert_eq!(record.owners, vec![owner.key.clone(), other.key.clone()]);

    // Another chat guesses: its own 5 wrong tries lock it out (the other chat's try is its own).
    guesser.say(&format!("/status {}", orders::SUCCESS_WITH_TOKEN)).await;
    guesser.press("Ma commande").await;
    for (guess, left) in [
        ("1111", "Encore 4 essais"),
        ("2222", "Encore 3 essais"),
        ("3333", "Encore 2 essais"),
        ("4444", "Encore un essai"),
    ] {
        let reply = guesser.say(guess).await;
        assert!(reply.contains(left), "{reply}");
    }
    let locked = guesser.say("5555").await;
    assert!(locked.contains("Trop d'essais erronés") && !locked.contains(CODE), "{locked}");
    let record = s.store.order(&no).await.unwrap().unwrap();
    assert_eq!(record.recent_failed_proofs(chrono::Utc::now()), 6);
    assert_eq!(record.recent_failed_proofs_by(&guesser.key, chrono::Utc::now()), 5);
    // Locked: even the right digits are not asked for any more.
    guesser.say(&format!("/status {}", orders::SUCCESS_WITH_TOKEN)).await;
    let again = guesser.press("Ma commande").await;
    assert!(again.contains("Trop d'essais erronés"), "{again}");
    let right = guesser.say("0001").await;
    assert!(!right.contains(CODE), "the digits are no longer read as a proof: {right}");
    assert_eq!(s.store.order(&no).await.unwrap().unwrap().owners.len(), 2);
}

#[tokio::test]
async fn a_chat_that_paid_a_reference_reads_its_holder_and_address_whole_others_recognize_them() {
    use billbot::sandbox::fixtures::refs;
    let s = setup().await;
    let mut payer = User::new(&s, "payer", "en", Role::Customer);
    let mut prover = User::new(&s, "prover", "fr", Role::Customer);
    let mut saver = User::new(&s, "saver", "en", Role::Customer);
    let mut agent = User::new(&s, "agent", "en", Role::Agent);
    let whole = ["Awa Sarr", "Cité Keur Gorgui, Villa 12, Dakar"];
    let before = look_up(&mut payer, refs::METER).await;
    assert!(before.contains("Holder: Awa S.\n") && before.contains("Address: …, Dakar\n"), "{before}");
    assert!(!before.contains("Sarr") && !before.contains("Keur"), "a stranger until proven: {before}");
    // The chat's order for that meter, seen delivered: the chat paid it.
    payer.say(&format!("/status {}", orders::SUCCESS_WITH_TOKEN)).await;
    let after = look_up(&mut payer, refs::METER).await;
    assert!(whole.iter().all(|w| after.contains(w)), "the payer reads it whole: {after}");

    // Another chat proves the same order is its own (the recipient's last 4 digits): so is the meter.
    assert!(!look_up(&mut prover, refs::METER).await.contains("Sarr"));
    prover.say(&format!("/status {}", orders::SUCCESS_WITH_TOKEN)).await;
    prover.press("Ma commande").await;
    prover.say("0001").await;
    let proven = look_up(&mut prover, refs::METER).await;
    assert!(whole.iter().all(|w| proven.contains(w)), "{proven}");

    // Saving proves nothing: anyone who looked a reference up may save it.
    look_up(&mut saver, refs::METER).await;
    saver.press("Save").await;
    let saved = look_up(&mut saver, refs::METER).await;
    assert!(saved.contains("Awa S.") && !saved.contains("Sarr"), "{saved}");
    // An order that failed proves nothing either.
    saver.say(&format!("/status {}", orders::FAILED)).await;
    let failed = look_up(&mut saver, refs::METER_SPECIAL).await;
    assert!(failed.contains("Aïssatou N.\n"), "{failed}");

    let agents = look_up(&mut agent, refs::METER).await;
    assert!(whole.iter().all(|w| agents.contains(w)), "agents see everything: {agents}");
    let prefs = s.store.prefs(&payer.key).await.unwrap();
    assert!(!prefs.paid.is_empty(), "the proof is kept with the chat's prefs");
    // /forget erases the proof with the rest.
    payer.say("/forget").await;
    payer.press("Yes, erase all").await;
    let forgotten = look_up(&mut payer, refs::METER).await;
    assert!(forgotten.contains("Awa S.") && !forgotten.contains("Sarr"), "{forgotten}");
}

/// A Woyofal meter looked up from /bill.
async fn look_up(user: &mut User<'_>, meter: &str) -> String {
    user.say("/bill").await;
    user.press("Woyofal").await;
    user.say(meter).await
}

/// Guesses `count` wrong digits for the order from a chat that does not own it.
async fn guess_wrong(user: &mut User<'_>, count: usize) -> String {
    user.say(&format!("/status {}", orders::SUCCESS_WITH_TOKEN)).await;
    user.press("My order").await;
    let mut last = String::new();
    for n in 0..count {
        last = user.say(&format!("{:04}", 9000 + n)).await;
    }
    last
}

#[tokio::test]
async fn a_strangers_wrong_guesses_do_not_lock_the_recipient_out() {
    let s = setup().await;
    let mut owner = User::new(&s, "owner", "en", Role::Customer);
    let mut stranger = User::new(&s, "stranger", "en", Role::Customer);
    let mut accomplice = User::new(&s, "accomplice", "en", Role::Customer);
    let mut recipient = User::new(&s, "recipient", "en", Role::Customer);
    owner.say(&format!("/status {}", orders::SUCCESS_WITH_TOKEN)).await;

    // The attack: two chats use up every try they have.
    for guesser in [&mut stranger, &mut accomplice] {
        let locked = guess_wrong(guesser, 5).await;
        assert!(locked.contains("Too many wrong tries"), "{locked}");
    }
    // It fails: the recipient, typing from a chat of its own, is still asked and proves it.
    let seen = recipient.say(&format!("/status {}", orders::SUCCESS_WITH_TOKEN)).await;
    assert!(!seen.contains(CODE), "{seen}");
    let ask = recipient.press("My order").await;
    assert!(ask.contains("type the last 4 digits") && !ask.contains("Too many"), "{ask}");
    let wrong = recipient.say("1234").await;
    assert!(wrong.contains("4 more tries today"), "its own tries, not the strangers': {wrong}");
    let proven = recipient.say("0001").await;
    assert!(proven.contains("now linked to your chat") && proven.contains(CODE), "{proven}");
    let no = OrderNo::parse(orders::SUCCESS_WITH_TOKEN).unwrap();
    let record = s.store.order(&no).await.unwrap().unwrap();
    assert_eq!(record.owners, vec![owner.key.clone(), recipient.key.clone()]);
}

#[tokio::test]
async fn the_order_takes_at_most_15_wrong_tries_a_day_from_all_chats_together() {
    let s = setup().await;
    let mut owner = User::new(&s, "owner", "en", Role::Customer);
    owner.say(&format!("/status {}", orders::SUCCESS_WITH_TOKEN)).await;
    let mut guessers: Vec<User<'_>> =
        (0..3).map(|n| User::new(&s, &format!("guesser{n}"), "en", Role::Customer)).collect();
    for guesser in guessers.iter_mut() {
        guess_wrong(guesser, 5).await;
    }
    let no = OrderNo::parse(orders::SUCCESS_WITH_TOKEN).unwrap();
    let record = s.store.order(&no).await.unwrap().unwrap();
    assert_eq!(record.recent_failed_proofs(chrono::Utc::now()), billbot::store::MAX_FAILED_PROOFS_PER_ORDER);
    // A fourth chat finds the proof locked for the day: 15 guesses of 10,000 a day at most.
    let mut fourth = User::new(&s, "fourth", "en", Role::Customer);
    fourth.say(&format!("/status {}", orders::SUCCESS_WITH_TOKEN)).await;
    let locked = fourth.press("My order").await;
    assert!(locked.contains("Too many wrong tries"), "{locked}");
    let right = fourth.say("0001").await;
    assert!(!right.contains(CODE), "{right}");
    let owners = s.store.order(&no).await.unwrap().unwrap().owners;
    assert_eq!(owners, vec![owner.key.clone()], "the owner still is, and sees the code");
    assert!(owner.say(&format!("/status {}", orders::SUCCESS_WITH_TOKEN)).await.contains(CODE));
}

#[tokio::test]
async fn an_order_whose_only_owner_forgot_itself_hides_its_code_from_the_next_chat() {
    let s = setup().await;
    let mut owner = User::new(&s, "owner", "en", Role::Customer);
    let mut next = User::new(&s, "next", "en", Role::Customer);
    let seen = owner.say(&format!("/status {}", orders::SUCCESS_WITH_TOKEN)).await;
    assert!(seen.contains(CODE), "{seen}");
    owner.say("/forget").await;
    owner.press("Yes, erase all").await;
    let no = OrderNo::parse(orders::SUCCESS_WITH_TOKEN).unwrap();
    let record = s.store.order(&no).await.unwrap().unwrap();
    assert!(record.owners.is_empty() && record.claimed, "{record:?}");

    // The attack: the next chat to type the number would have become its owner.
    let stranger = next.say(&format!("/status {}", orders::SUCCESS_WITH_TOKEN)).await;
    assert!(!stranger.contains(CODE) && stranger.contains("delivered"), "{stranger}");
    assert!(next.button("My order").is_some());
    assert!(s.store.order(&no).await.unwrap().unwrap().owners.is_empty(), "nobody took it");
    // The same holds for the chat that forgot itself: it proves the digits like anyone.
    let forgotten = owner.say(&format!("/status {}", orders::SUCCESS_WITH_TOKEN)).await;
    assert!(!forgotten.contains(CODE), "{forgotten}");
    owner.press("My order").await;
    let proven = owner.say("0001").await;
    assert!(proven.contains(CODE), "{proven}");
    assert_eq!(s.store.order(&no).await.unwrap().unwrap().owners, vec![owner.key.clone()]);
}

#[tokio::test]
async fn an_order_swept_with_its_owner_hides_its_code_when_looked_up_again() {
    let s = setup().await;
    let mut owner = User::new(&s, "owner", "en", Role::Customer);
    let mut next = User::new(&s, "next", "en", Role::Customer);
    owner.say(&format!("/status {}", orders::SUCCESS_WITH_TOKEN)).await;
    // Retention removes the record (as 180 days after it was last looked up).
    let later = chrono::Utc::now() + chrono::Duration::minutes(1);
    let swept = s.store.sweep_expired(later, later - chrono::Duration::days(30)).await.unwrap();
    assert!(swept.orders >= 1, "{swept:?}");
    let no = OrderNo::parse(orders::SUCCESS_WITH_TOKEN).unwrap();
    assert!(s.store.order(&no).await.unwrap().is_none());

    // The attack: the next chat to type the number would have become its owner.
    let stranger = next.say(&format!("/status {}", orders::SUCCESS_WITH_TOKEN)).await;
    assert!(!stranger.contains(CODE) && stranger.contains("delivered"), "{stranger}");
    let record = s.store.order(&no).await.unwrap().unwrap();
    assert!(record.owners.is_empty() && record.claimed, "nobody took it: {record:?}");
    let again = next.say(&format!("/status {}", orders::SUCCESS_WITH_TOKEN)).await;
    assert!(!again.contains(CODE), "nor on a second look: {again}");
    next.press("My order").await;
    assert!(next.say("0001").await.contains(CODE), "the recipient's digits still open it");
}
