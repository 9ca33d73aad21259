//! A live room opens no sockets nobody asked for: with ICE gathering on the machine's real
//! interface (as in production, where libnice's UPnP discovery would start GUPnP HTTP servers
//! and SSDP), the server holds exactly one TCP listener, its own, and never logs `gupnp`.

use crate::common::*;
use tessera_client::{PeerOptions, TestPeer};

/// Inodes of the TCP sockets in LISTEN state in `/proc/<pid>/net/tcp{,6}`.
fn listening_inodes(pid: u32) -> Vec<String> {
    let mut inodes = Vec::new();
    for table in ["tcp", "tcp6"] {
        let text = std::fs::read_to_string(format!("/proc/{pid}/net/{table}")).unwrap_or_default();
        for line in text.lines().skip(1) {
            let fields: Vec<&str> = line.split_whitespace().collect();
            // st == 0A is LISTEN; field 9 is the inode.
            if fields.len() > 9 && fields[3] == "0A" {
                inodes.push(fields[9].to_owned());
            }
        }
    }
    inodes
}

/// Sockets among `pid`'s open files that are TCP listeners.
fn tcp_listeners(pid: u32) -> usize {
    let listening = listening_inodes(pid);
    let fds = std::fs::read_dir(format!("/proc/{pid}/fd")).into_iter().flatten().flatten();
    fds.filter_map(|fd| std::fs::read_link(fd.path()).ok())
        .filter_map(|target| target.to_str()?.strip_prefix("socket:[")?.strip_suffix(']').map(str::to_owned))
        .filter(|inode| listening.contains(inode))
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_live_room_holds_one_tcp_listener_and_no_upnp() -> anyhow::Result<()> {
    let addresses = tessera::config::default_ice_addresses();
    let free = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?;
    let server = ServerProcess::start_on(free, &[]).await?;
    let publisher = TestPeer::join(server.addr, PeerOptions::publisher("ports", "red", RED, 440.0)).await?;
    let viewer = TestPeer::join(server.addr, PeerOptions::viewer("ports", "watcher")).await?;
    viewer.wait_for(secs(15), |v| v.received().frames() > 30).await?;
    let listeners = tcp_listeners(server.pid());
    let log = server.log.lock().unwrap().join("\n");
    println!("ICE on {addresses:?}: the server holds {listeners} TCP listener(s)");
    assert_eq!(listeners, 1, "only the HTTP listener");
    assert!(!log.to_lowercase().contains("gupnp"), "UPnP ran:\n{log}");
    viewer.leave().await?;
    publisher.leave().await?;
    Ok(())
}
