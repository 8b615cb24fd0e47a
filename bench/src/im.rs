//! `switchboard-bench im`: the messaging load test. The server runs as a child process (durable
//! SQLite, as shipped); this process plays every client over real WebSockets, side by side on
//! the same machine. It reports: memory per idle connection, throughput at saturation with
//! direct messages between random pairs, send→deliver latency at half that rate, the time for
//! one message to reach every member of a large department chat, and a reconnect storm.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex, atomic::Ordering},
    time::{Duration, Instant},
};

use serde_json::json;
use tokio::sync::mpsc;

use super::{
    im_client::{self, Cmd, Person, Shared},
    im_setup::{self, Server},
};

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// The benchmark's knobs.
#[derive(Debug, Clone, clap::Args)]
pub struct ImArgs {
    /// Connected users.
    #[arg(long, default_value_t = 10_000)]
    pub users: usize,
    /// Members of the department used for the fan-out probe.
    #[arg(long, default_value_t = 5_000)]
    pub fanout: usize,
    /// Colleagues each user writes to (random pairs among them).
    #[arg(long, default_value_t = 8)]
    pub peers: usize,
    /// Seconds of each measured phase.
    #[arg(long, default_value_t = 10)]
    pub seconds: u64,
    /// Sends each user keeps in flight at saturation.
    #[arg(long, default_value_t = 2)]
    pub window: usize,
    /// Messages each user misses before the reconnect storm.
    #[arg(long, default_value_t = 50)]
    pub missed: u64,
    /// Keep the run's directory (database and server log) afterwards.
    #[arg(long)]
    pub keep: bool,
}

struct Fleet {
    senders: Vec<mpsc::UnboundedSender<Cmd>>,
    department_chats: Vec<Arc<Mutex<Option<String>>>>,
    shared: Arc<Shared>,
}

impl Fleet {
    fn all(&self, cmd: Cmd) {
        for tx in &self.senders {
            let _ = tx.send(cmd.clone());
        }
    }
}

async fn wait_for(
    what: &str,
    limit: Duration,
    done: impl Fn() -> bool,
) -> Result<Duration, BoxError> {
    let started = Instant::now();
    while !done() {
        if started.elapsed() > limit {
            return Err(format!("timed out waiting for {what}").into());
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    Ok(started.elapsed())
}

fn percentile(sorted: &[u32], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let index = ((sorted.len() - 1) as f64 * p).round() as usize;
    sorted[index] as f64 / 1000.0
}

pub async fn run(args: ImArgs) -> Result<(), BoxError> {
    let dir = im_setup::scratch()?;
    println!(
        "messaging benchmark: {} users ({} in one department, the rest in departments of 100), {} peers each; server and load tool on this machine ({} cores); SQLite WAL at {}",
        args.users,
        args.fanout,
        args.peers,
        std::thread::available_parallelism().map_or(1, |n| n.get()),
        dir.display()
    );
    let started = Instant::now();
    let company = im_setup::company(&dir, args.users, args.fanout.min(args.users)).await?;
    println!(
        "setup:       company, accounts and tokens ready in {:.1} s (prepared once, then copied)",
        started.elapsed().as_secs_f64()
    );
    let port = im_setup::free_port()?;
    let server = Server::start(&dir, port).await?;
    let rss_empty = server.rss_kib().unwrap_or(0);

    // Every user connects and syncs.
    let shared = Shared::new();
    let ws = format!("ws://127.0.0.1:{port}/ws");
    let mut fleet = Fleet {
        senders: Vec::new(),
        department_chats: Vec::new(),
        shared: shared.clone(),
    };
    let n = company.people.len();
    let connect_started = Instant::now();
    for (index, (staff, token)) in company.people.iter().enumerate() {
        let peers: Vec<String> = (0..args.peers)
            .map(|k| {
                // Fixed random-looking peers (a multiplicative hash), never oneself.
                let offset = 1 + (index.wrapping_mul(7919).wrapping_add(k * 104_729)) % (n - 1);
                company.people[(index + offset) % n].0.to_string()
            })
            .collect();
        let chat = Arc::new(Mutex::new(None));
        let person = Person {
            index,
            staff: staff.to_string(),
            url: format!("{ws}?token={token}&device=bench"),
            peers,
            department_chat: chat.clone(),
        };
        let (tx, rx) = mpsc::unbounded_channel();
        tokio::spawn(im_client::run(person, shared.clone(), rx));
        fleet.senders.push(tx);
        fleet.department_chats.push(chat);
        if index % 500 == 499 {
            // Connect in waves, as clients of a real company would not all start in one ms.
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    wait_for("every client to sync", Duration::from_secs(300), || {
        shared.synced.load(Ordering::Acquire) >= n
    })
    .await?;
    let connect_time = connect_started.elapsed();
    tokio::time::sleep(Duration::from_secs(2)).await;
    let rss_idle = server.rss_kib().unwrap_or(0);
    println!(
        "connect:     {n} clients connected and synced in {:.1} s",
        connect_time.as_secs_f64()
    );
    println!(
        "memory:      server RSS {:.0} MiB before, {:.0} MiB with {n} idle connections = {:.1} KiB per connection (goal <= 30 KB)",
        rss_empty as f64 / 1024.0,
        rss_idle as f64 / 1024.0,
        rss_idle.saturating_sub(rss_empty) as f64 / n as f64
    );

    // Warm-up: the first message of each pair creates its direct conversation.
    let pairs = n * args.peers;
    let warm = Instant::now();
    for k in 0..args.peers {
        fleet.all(Cmd::Direct(k));
    }
    wait_for(
        "the first message of every pair",
        Duration::from_secs(600),
        || shared.acked.load(Ordering::Acquire) as usize >= pairs,
    )
    .await?;
    println!(
        "warm-up:     {pairs} first messages (creating up to {pairs} direct conversations) in {:.1} s",
        warm.elapsed().as_secs_f64()
    );

    let saturated = saturation(&fleet, &server, &args).await?;
    // The goal names half the saturation rate; lower rates show how latency falls with load
    // (server and load tool share the two cores, so "half" still leaves little idle CPU).
    for fraction in [2.0, 4.0, 10.0] {
        latency(&fleet, &server, &args, saturated / fraction).await?;
    }
    fanout(&fleet, &args).await?;
    storm(&fleet, &company, &server, &args).await?;
    println!("server log:  {}", dir.join("server.log").display());
    drop(server);
    if !args.keep {
        let _ = std::fs::remove_dir_all(&dir);
    }
    Ok(())
}

/// Closed loop, every user with `window` sends in flight: delivered messages per second.
async fn saturation(fleet: &Fleet, server: &Server, args: &ImArgs) -> Result<f64, BoxError> {
    let shared = &fleet.shared;
    fleet.all(Cmd::ClosedLoop(args.window));
    tokio::time::sleep(Duration::from_secs(3)).await;
    let (d0, a0, c0, t0) = (
        shared.delivered.load(Ordering::Acquire),
        shared.acked.load(Ordering::Acquire),
        server.cpu_seconds().unwrap_or(0.0),
        Instant::now(),
    );
    tokio::time::sleep(Duration::from_secs(args.seconds)).await;
    let elapsed = t0.elapsed().as_secs_f64();
    let delivered = (shared.delivered.load(Ordering::Acquire) - d0) as f64 / elapsed;
    let acked = (shared.acked.load(Ordering::Acquire) - a0) as f64 / elapsed;
    let cpu = (server.cpu_seconds().unwrap_or(0.0) - c0) / elapsed;
    fleet.all(Cmd::ClosedLoop(0));
    tokio::time::sleep(Duration::from_secs(2)).await;
    println!(
        "saturation:  {delivered:.0} messages/s delivered ({acked:.0} acks/s) with {} in flight; server CPU {:.0}% of one core (goal >= 50000/s)",
        fleet.senders.len() * args.window,
        cpu * 100.0
    );
    Ok(delivered)
}

/// Open loop at `rate` messages per second to random pairs: send→deliver latency.
async fn latency(fleet: &Fleet, server: &Server, args: &ImArgs, rate: f64) -> Result<(), BoxError> {
    let shared = &fleet.shared;
    let n = fleet.senders.len();
    let mut owed = 0.0;
    let mut pick: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut tick = tokio::time::interval(Duration::from_millis(1));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let warmup = Duration::from_secs(2);
    let total = warmup + Duration::from_secs(args.seconds);
    let started = Instant::now();
    let mut last = Instant::now();
    let d0 = shared.delivered.load(Ordering::Acquire);
    let mut stages_before = None;
    while started.elapsed() < total {
        tick.tick().await;
        if !shared.recording.load(Ordering::Relaxed) && started.elapsed() >= warmup {
            shared.recording.store(true, Ordering::Release);
            stages_before = Some(send_stages(&server.base).await?);
        }
        let now = Instant::now();
        owed += rate * now.duration_since(last).as_secs_f64();
        last = now;
        while owed >= 1.0 {
            owed -= 1.0;
            pick ^= pick << 13;
            pick ^= pick >> 7;
            pick ^= pick << 17;
            let _ =
                fleet.senders[(pick % n as u64) as usize].send(Cmd::Direct((pick >> 32) as usize));
        }
    }
    shared.recording.store(false, Ordering::Release);
    let stages_after = send_stages(&server.base).await?;
    let achieved =
        (shared.delivered.load(Ordering::Acquire) - d0) as f64 / started.elapsed().as_secs_f64();
    tokio::time::sleep(Duration::from_secs(1)).await;
    let mut samples =
        std::mem::take(&mut *shared.latencies.lock().unwrap_or_else(|e| e.into_inner()));
    samples.sort_unstable();
    let mut to_commit =
        std::mem::take(&mut *shared.to_commit.lock().unwrap_or_else(|e| e.into_inner()));
    to_commit.sort_unstable();
    if let Some(before) = stages_before {
        let line: Vec<String> = ["authorise", "queued", "commit", "fanout"]
            .iter()
            .map(|stage| {
                let (p50, p99) = stage_quantiles(&before, &stages_after, stage);
                format!("{stage} p50 <= {p50} ms, p99 <= {p99} ms")
            })
            .collect();
        println!(
            "             server stages (bucket bounds): {}",
            line.join("; ")
        );
    }
    println!(
        "             of which send→commit (ms clock): p50 {:.1} ms, p90 {:.1} ms, p99 {:.1} ms",
        percentile(&to_commit, 0.5),
        percentile(&to_commit, 0.9),
        percentile(&to_commit, 0.99)
    );
    println!(
        "latency:     at {rate:.0} msg/s offered ({achieved:.0}/s delivered), send→deliver p50 {:.2} ms, p90 {:.2} ms, p99 {:.2} ms, max {:.2} ms over {} messages (goal p99 <= 20 ms)",
        percentile(&samples, 0.5),
        percentile(&samples, 0.9),
        percentile(&samples, 0.99),
        percentile(&samples, 1.0),
        samples.len()
    );
    Ok(())
}

/// The server's `switchboard_im_send_stage_seconds` buckets: stage → (upper bound in ms,
/// cumulative count).
type Stages = HashMap<String, Vec<(f64, u64)>>;

async fn send_stages(base: &str) -> Result<Stages, BoxError> {
    let text = reqwest::get(format!("{base}/metrics"))
        .await?
        .text()
        .await?;
    let mut stages: Stages = HashMap::new();
    for line in text.lines() {
        let Some(rest) = line.strip_prefix("switchboard_im_send_stage_seconds_bucket{stage=\"")
        else {
            continue;
        };
        let parsed = (|| {
            let (stage, rest) = rest.split_once("\",le=\"")?;
            let (le, count) = rest.split_once("\"} ")?;
            let bound = if le == "+Inf" {
                f64::INFINITY
            } else {
                le.parse::<f64>().ok()? * 1000.0
            };
            Some((stage.to_owned(), bound, count.trim().parse::<u64>().ok()?))
        })();
        if let Some((stage, bound, count)) = parsed {
            stages.entry(stage).or_default().push((bound, count));
        }
    }
    Ok(stages)
}

/// The bucket bounds holding the median and the 99th percentile of what was observed between
/// two scrapes.
fn stage_quantiles(before: &Stages, after: &Stages, stage: &str) -> (f64, f64) {
    let empty = Vec::new();
    let (before, after) = (
        before.get(stage).unwrap_or(&empty),
        after.get(stage).unwrap_or(&empty),
    );
    let deltas: Vec<(f64, u64)> = after
        .iter()
        .map(|&(bound, count)| {
            let earlier = before
                .iter()
                .find(|(b, _)| *b == bound)
                .map_or(0, |(_, c)| *c);
            (bound, count.saturating_sub(earlier))
        })
        .collect();
    let total = deltas.last().map_or(0, |(_, c)| *c);
    let bound_at = |q: f64| {
        deltas
            .iter()
            .find(|(_, c)| *c as f64 >= q * total as f64)
            .map_or(f64::NAN, |(b, _)| *b)
    };
    (bound_at(0.5), bound_at(0.99))
}

/// One message into the big department chat: time until every other member has it.
async fn fanout(fleet: &Fleet, args: &ImArgs) -> Result<(), BoxError> {
    let shared = &fleet.shared;
    let members = args.fanout.min(fleet.senders.len());
    let chat = fleet.department_chats[0]
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .clone()
        .ok_or("the fan-out department chat is unknown")?;
    let mut times = Vec::new();
    for tag in 1..=5u64 {
        shared.probe_count.store(0, Ordering::Release);
        shared.probe_last_us.store(0, Ordering::Release);
        shared.probe.store(tag, Ordering::Release);
        let sent = shared.now_us();
        let _ = fleet.senders[0].send(Cmd::Probe {
            conversation: chat.clone(),
            tag,
        });
        wait_for("the fan-out probe", Duration::from_secs(30), || {
            shared.probe_count.load(Ordering::Acquire) >= members - 1
        })
        .await?;
        times.push((shared.probe_last_us.load(Ordering::Acquire) - sent) as f64 / 1000.0);
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let mut sorted = times.clone();
    sorted.sort_by(f64::total_cmp);
    println!(
        "fan-out:     one message to a {members}-member department chat, all online: last member has it after {:.1} ms (median of 5; all: {}) (goal <= 100 ms)",
        sorted[sorted.len() / 2],
        times
            .iter()
            .map(|t| format!("{t:.1}"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    Ok(())
}

/// Everyone disconnects, misses `missed` messages in their department chat, and reconnects at
/// once: time until every client has synced them.
async fn storm(
    fleet: &Fleet,
    company: &im_setup::Company,
    server: &Server,
    args: &ImArgs,
) -> Result<(), BoxError> {
    let shared = &fleet.shared;
    let n = fleet.senders.len();
    fleet.all(Cmd::Disconnect);
    tokio::time::sleep(Duration::from_secs(2)).await;
    // One member of each department tells us its chat.
    let mut chats: Vec<String> = Vec::new();
    for department in 0..company.departments.len() {
        let Some(member) = company.department_of.iter().position(|d| *d == department) else {
            continue;
        };
        if let Some(chat) = fleet.department_chats[member]
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
        {
            chats.push(chat);
        }
    }
    let client = reqwest::Client::new();
    let posted = Instant::now();
    let mut tasks = Vec::new();
    for chunk in chats.chunks(chats.len().div_ceil(8).max(1)) {
        let (client, chunk, key, base) = (
            client.clone(),
            chunk.to_vec(),
            company.api_key.clone(),
            server.base.clone(),
        );
        let missed = args.missed;
        tasks.push(tokio::spawn(async move {
            for chat in chunk {
                for m in 0..missed {
                    let _ = client
                        .post(format!("{base}/api/v1/im/server/messages"))
                        .header("x-api-key", &key)
                        .json(&json!({"conversation": chat, "client_msg_id": format!("storm-{chat}-{m}"),
                                      "kind": "text", "body": {"text": format!("while you were away {m}")}}))
                        .send()
                        .await;
                }
            }
        }));
    }
    for task in tasks {
        task.await?;
    }
    let posted = posted.elapsed();
    shared.caught_up.store(0, Ordering::Release);
    let m0 = shared.synced_messages.load(Ordering::Acquire);
    let started = Instant::now();
    fleet.all(Cmd::Reconnect {
        expect: args.missed,
    });
    let took = wait_for("every client to catch up", Duration::from_secs(300), || {
        shared.caught_up.load(Ordering::Acquire) >= n
    })
    .await;
    let synced = shared.synced_messages.load(Ordering::Acquire) - m0;
    match took {
        Ok(took) => println!(
            "reconnect:   {n} clients reconnect at once, each catching up on {} missed messages ({synced} delivered by sync): all in sync after {:.2} s ({} messages posted in {:.1} s before)",
            args.missed,
            took.as_secs_f64(),
            chats.len() as u64 * args.missed,
            posted.as_secs_f64()
        ),
        Err(error) => println!(
            "reconnect:   {error} after {:.0} s: {} of {n} caught up",
            started.elapsed().as_secs_f64(),
            shared.caught_up.load(Ordering::Acquire)
        ),
    }
    println!(
        "errors:      {} error frames or failed connections in the whole run",
        shared.errors.load(Ordering::Acquire)
    );
    Ok(())
}
