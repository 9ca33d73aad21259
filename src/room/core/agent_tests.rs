//! The rules for agents (`/agent`) and for chat and captions, on the fake clock.

use std::time::Duration;

use super::tests::{Fixture, sent_to};
use super::*;
use crate::protocol::{Caption, ChannelMessage, Said};

fn channel_to(out: &[Output], to: ParticipantId) -> Vec<ChannelMessage> {
    out.iter()
        .filter_map(|o| match o {
            Output::Channel { to: t, text } if *t == to => serde_json::from_str(text).ok(),
            _ => None,
        })
        .collect()
}

#[test]
fn an_agent_has_a_tile_gets_the_list_on_its_socket_and_is_never_timed_out() {
    let mut f = Fixture::new();
    let red = f.publisher("red");
    let bot = f.join("Bot", Role::Agent);
    f.input(Input::StageTick { levels: vec![], video: vec![] });
    assert_eq!(f.core.stage.tiles.iter().map(|t| t.participant).collect::<Vec<_>>(), [red, bot], "a tile each");
    let bot_tile = f.core.stage.tiles.iter().find(|t| t.participant == bot).unwrap();
    assert!(!bot_tile.video, "a placeholder");
    // The list with tiles: on the agent's socket, on everyone else's DataChannel.
    let mut f = Fixture::new();
    let red = f.publisher("red");
    let id: ParticipantId = "p9".parse().unwrap();
    let admit = Input::Admit {
        id,
        name: "Bot".into(),
        role: Role::Agent,
        may_set_layout: false,
        at: std::time::SystemTime::now(),
        recordings: vec![],
        ice_servers: vec![],
    };
    let out = f.input(admit);
    assert!(
        sent_to(&out, id)
            .iter()
            .any(|m| matches!(m, ServerMessage::Participants { participants, .. } if participants.len() == 2))
    );
    assert!(channel_to(&out, id).is_empty(), "agents have no DataChannel");
    assert!(channel_to(&out, red).iter().any(|m| matches!(m, ChannelMessage::Participants { .. })));
    // Connected from the start: the media timeout never removes it, though it sends no RTP.
    f.at(Duration::from_secs(60));
    let out = f.input(Input::Tick { inbound: vec![(id, Default::default())] });
    assert!(f.core.contains(id), "{out:?}");
}

#[test]
fn chat_and_captions_go_to_everyone_with_the_senders_name() {
    let mut f = Fixture::new();
    let red = f.publisher("red");
    let viewer = f.join("v", Role::Viewer);
    let bot = f.join("Bot", Role::Agent);
    let out = f.input(Input::Chat { id: bot, text: "hello".into() });
    let said = Said { from: bot, name: "Bot".into(), text: "hello".into() };
    for who in [red, viewer, bot] {
        assert_eq!(sent_to(&out, who), [&ServerMessage::Chat(said.clone())], "{who}");
    }
    assert_eq!(channel_to(&out, red), [ChannelMessage::Chat(said)]);
    assert!(channel_to(&out, bot).is_empty(), "the agent hears it once, on its socket");
    let out = f.input(Input::Caption { id: red, text: "hi".into(), is_final: false });
    let caption = Caption { from: red, name: "red".into(), text: "hi".into(), is_final: false };
    assert_eq!(sent_to(&out, bot), [&ServerMessage::Caption(caption)]);
    // Someone already gone says nothing.
    f.input(Input::Leave(viewer));
    assert!(f.input(Input::Chat { id: viewer, text: "ghost".into() }).is_empty());
}
