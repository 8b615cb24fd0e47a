//! Where a message's time goes on the server, for `/metrics`
//! (`switchboard_im_send_stage_seconds{stage}`): operators read the tail from it, and so does
//! the messaging benchmark, to tell the server's share of a latency from the network's and
//! the clients'.

use crate::observability::Histogram;

#[derive(Default)]
pub struct SendTimings {
    /// From the send reaching the service (frame parsed, or REST call) to its being queued
    /// for the writer: validation and authorisation (finding or creating the conversation).
    pub authorise: Histogram,
    /// From being queued to the writer taking it into a batch.
    pub queued: Histogram,
    /// From the batch starting to its commit being durable (resend lookup included).
    pub commit: Histogram,
    /// From the commit to the message being in every online recipient's session queue.
    pub fanout: Histogram,
}

impl SendTimings {
    pub fn render(&self, out: &mut String) {
        const NAME: &str = "switchboard_im_send_stage_seconds";
        out.push_str(&format!(
            "# HELP {NAME} Time a message spends in each server stage.\n# TYPE {NAME} histogram\n"
        ));
        for (stage, histogram) in [
            ("authorise", &self.authorise),
            ("queued", &self.queued),
            ("commit", &self.commit),
            ("fanout", &self.fanout),
        ] {
            histogram.render(NAME, &format!("stage=\"{stage}\""), out);
        }
    }
}
