//! The dialog tracker: SIP messages and capture time in, call events and media plans out.
//! Sans-IO: it never reads a clock; timeouts run on the `now` of [`DialogTracker::poll`].
//!
//! A dialog is keyed by Call-ID, the caller's tag (From of the initial INVITE) and the
//! callee's tag (To of the responses). A request's sender is the side whose tag is its
//! From tag; a response's sender is the side whose tag is its To tag. While the call is
//! not answered the callee's tag follows the latest tagged response (forked early
//! dialogs: the fork that answers wins).
//!
//! Offer/answer (RFC 3264, RFC 6337 §2), per dialog:
//! - an INVITE, UPDATE or PRACK with SDP is an offer from its sender, unless it answers a
//!   pending offer of the other side (an ACK or PRACK answering an offer made in a 2xx or
//!   a reliable 18x);
//! - a response with SDP to the request that carried the pending offer is its answer (a
//!   183 gives early media; the 200 that repeats the same answer re-applies it);
//! - a response with SDP to an INVITE without SDP is an offer (late offer), answered by
//!   the ACK (or PRACK);
//! - an SDP that fits none of these is counted ([`DialogCounters::unexpected_sdp`]).
//!
//! Every completed exchange updates the call's [`MediaPlan`] and yields
//! [`DialogEvent::Negotiated`]. A BYE (either side), a CANCEL, or a final non-2xx to the
//! initial INVITE (other than 401/407, after which the INVITE is re-sent with
//! credentials) ends the call ([`DialogEvent::Ended`]). A failed re-INVITE changes
//! nothing.
//!
//! Bounds: [`DialogConfig::max_dialogs`] dialogs (the oldest created is evicted and ended
//! with [`EndReason::Evicted`]), [`MAX_DIALOGS_PER_CALL_ID`] per Call-ID (more are
//! refused), a setup timeout (no final response) and an idle timeout (no message) that end a call, and ended
//! dialogs kept for [`DialogConfig::linger`] only, so that the 200 to a BYE and
//! retransmissions are recognised rather than counted as outside any dialog.

use std::collections::VecDeque;
use std::time::Duration;

use rustc_hash::FxHashMap;

use super::counters::{DialogCounters, SdpErrorCounts};
use super::header::Method;
use super::multipart::find_sdp;
use super::plan::{EndReason, MediaPlan, Party, Side};
use super::sdp::Sdp;
use super::sip::SipMessage;
use crate::Timestamp;

/// Dialogs kept per Call-ID (forks, and the same dialog seen at two hops, share one).
pub const MAX_DIALOGS_PER_CALL_ID: usize = 8;

/// Bounds and timeouts of the tracker.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DialogConfig {
    /// Dialogs followed at once.
    pub max_dialogs: usize,
    /// An INVITE without a final response for this long ends (RFC 3261 Timer C: 3 min).
    pub setup_timeout: Duration,
    /// An established call without any SIP message for this long ends. SIP sends
    /// nothing during a call unless session timers (RFC 4028) refresh it, so this is a
    /// backstop against lost BYEs, not an activity check.
    pub idle_timeout: Duration,
    /// How long an ended dialog is remembered (RFC 3261 64*T1 = 32 s).
    pub linger: Duration,
}

impl Default for DialogConfig {
    fn default() -> Self {
        DialogConfig {
            max_dialogs: 4096,
            setup_timeout: Duration::from_secs(180),
            idle_timeout: Duration::from_secs(12 * 3600),
            linger: Duration::from_secs(32),
        }
    }
}

/// What the tracker reports.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DialogEvent {
    /// An initial INVITE started a call.
    Started {
        /// Its Call-ID.
        call_id: String,
    },
    /// An offer/answer exchange completed: the plan as it is now.
    Negotiated(MediaPlan),
    /// The call ended: its final plan.
    Ended(MediaPlan),
}

/// The transaction an offer was made in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum OfferMethod {
    Invite,
    Update,
    Prack,
}

struct PendingOffer {
    from: Side,
    cseq: u32,
    method: OfferMethod,
    /// True when the offer came in a response (late offer): the ACK or PRACK answers it.
    in_response: bool,
    sdp: Vec<u8>,
}

struct Negotiated {
    offerer: Side,
    cseq: u32,
    method: OfferMethod,
    offer: Vec<u8>,
    answer: Vec<u8>,
}

// The offer and answer may hold SDES keys: their Debug shows lengths only.
impl std::fmt::Debug for PendingOffer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PendingOffer")
            .field("from", &self.from)
            .field("cseq", &self.cseq)
            .field("method", &self.method)
            .field("in_response", &self.in_response)
            .field("sdp_len", &self.sdp.len())
            .finish()
    }
}

impl std::fmt::Debug for Negotiated {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Negotiated")
            .field("offerer", &self.offerer)
            .field("cseq", &self.cseq)
            .field("method", &self.method)
            .field("offer_len", &self.offer.len())
            .field("answer_len", &self.answer.len())
            .finish()
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    Early,
    Confirmed,
    Ended(Timestamp),
}

#[derive(Debug)]
struct Dialog {
    plan: MediaPlan,
    caller_tag: Box<[u8]>,
    callee_tag: Option<Box<[u8]>>,
    invite_cseq: u32,
    state: State,
    pending: Option<PendingOffer>,
    last: Option<Negotiated>,
    last_activity: Timestamp,
    generation: u64,
}

/// Follows SIP dialogs and builds their media plans.
#[derive(Debug, Default)]
pub struct DialogTracker {
    config: DialogConfig,
    calls: FxHashMap<Box<[u8]>, Vec<Dialog>>,
    /// (Call-ID, generation) in creation order, for eviction; stale entries skipped.
    order: VecDeque<(Box<[u8]>, u64)>,
    live: usize,
    next_generation: u64,
    counters: DialogCounters,
    sdp_errors: SdpErrorCounts,
}

impl DialogTracker {
    /// A tracker with the given bounds.
    pub fn new(config: DialogConfig) -> Self {
        DialogTracker {
            config,
            ..Self::default()
        }
    }

    /// What was ignored, bounded or ended so far.
    pub fn counters(&self) -> &DialogCounters {
        &self.counters
    }

    /// SDP errors seen so far.
    pub fn sdp_errors(&self) -> &SdpErrorCounts {
        &self.sdp_errors
    }

    /// Dialogs held (ended ones still lingering included).
    pub fn len(&self) -> usize {
        self.live
    }

    /// True when no dialog is held.
    pub fn is_empty(&self) -> bool {
        self.live == 0
    }

    /// The plans of the calls that have not ended.
    pub fn active_plans(&self) -> impl Iterator<Item = &MediaPlan> {
        self.calls
            .values()
            .flatten()
            .filter(|d| !matches!(d.state, State::Ended(_)))
            .map(|d| &d.plan)
    }

    /// Feeds one message captured at `now`.
    pub fn on_message(
        &mut self,
        now: Timestamp,
        message: &SipMessage<'_>,
        events: &mut Vec<DialogEvent>,
    ) {
        let from_tag = message.from().tag;
        let to_tag = message.to().tag;
        let Some(from_tag) = from_tag else {
            self.counters.outside_dialog += 1;
            return;
        };
        let found = self.find(message.call_id(), from_tag, to_tag);
        let (index, requester) = match found {
            Some(found) => found,
            None => match self.start(now, message, events) {
                Some(index) => (index, Side::Caller),
                // An INVITE that starts nothing was refused (and counted as such).
                None if message.method() == Some(Method::Invite) => return,
                None => {
                    self.counters.outside_dialog += 1;
                    return;
                }
            },
        };
        // A request comes from the side whose tag is its From tag; a response from the
        // other one.
        let sender = if message.method().is_some() {
            requester
        } else {
            requester.other()
        };
        let Some(dialog) = self
            .calls
            .get_mut(message.call_id())
            .and_then(|dialogs| dialogs.get_mut(index))
        else {
            return;
        };
        dialog.last_activity = now;
        if let State::Ended(_) = dialog.state {
            return; // a retransmission or the 200 to the BYE
        }
        let mut step = Step {
            dialog,
            counters: &mut self.counters,
            sdp_errors: &mut self.sdp_errors,
            events,
            now,
        };
        step.run(message, sender);
    }

    /// Ends the calls whose timeouts passed and forgets ended dialogs after the linger.
    pub fn poll(&mut self, now: Timestamp, events: &mut Vec<DialogEvent>) {
        let config = self.config;
        let mut forgotten = 0;
        for dialogs in self.calls.values_mut() {
            for dialog in dialogs.iter_mut() {
                let idle = now.saturating_duration_since(dialog.last_activity);
                let limit = match dialog.state {
                    State::Early => config.setup_timeout,
                    State::Confirmed => config.idle_timeout,
                    State::Ended(_) => continue,
                };
                if idle > limit {
                    self.counters.dialogs_timed_out += 1;
                    end(dialog, now, EndReason::Timeout, events);
                }
            }
            let before = dialogs.len();
            dialogs.retain(|d| match d.state {
                State::Ended(at) => now.saturating_duration_since(at) <= config.linger,
                _ => true,
            });
            forgotten += before - dialogs.len();
        }
        self.calls.retain(|_, dialogs| !dialogs.is_empty());
        self.live -= forgotten;
        if forgotten > 0 {
            self.compact_order();
        }
    }

    /// Returns the plans of every call still open (at the end of a capture, or at
    /// shutdown), oldest first, unchanged (`ended` stays `None`: the signalling did not
    /// end them); the tracker is empty afterwards.
    pub fn finish(&mut self) -> Vec<MediaPlan> {
        let mut plans: Vec<MediaPlan> = self
            .calls
            .drain()
            .flat_map(|(_, dialogs)| dialogs)
            .filter(|d| !matches!(d.state, State::Ended(_)))
            .map(|d| d.plan)
            .collect();
        plans.sort_by_key(|p| p.started);
        self.order.clear();
        self.live = 0;
        plans
    }

    /// The dialog a message belongs to, and which side's tag is its From tag (the side
    /// that sent the request, or that the response answers).
    fn find(
        &self,
        call_id: &[u8],
        from_tag: &[u8],
        to_tag: Option<&[u8]>,
    ) -> Option<(usize, Side)> {
        let dialogs = self.calls.get(call_id)?;
        // Newest first: a dialog that replaced an ended one must win.
        dialogs.iter().enumerate().rev().find_map(|(i, d)| {
            let callee = d.callee_tag.as_deref();
            if &*d.caller_tag == from_tag {
                let early = !matches!(d.state, State::Confirmed | State::Ended(_));
                let matches = match (callee, to_tag) {
                    (None, _) | (_, None) => true,
                    (Some(c), Some(t)) => c == t || early,
                };
                matches.then_some((i, Side::Caller))
            } else if callee == Some(from_tag) && to_tag == Some(&*d.caller_tag) {
                Some((i, Side::Callee))
            } else {
                None
            }
        })
    }

    /// Starts a dialog for an INVITE that matches none (an initial INVITE, or a
    /// re-INVITE of a call that began before the capture). Returns its index.
    fn start(
        &mut self,
        now: Timestamp,
        message: &SipMessage<'_>,
        events: &mut Vec<DialogEvent>,
    ) -> Option<usize> {
        if message.method() != Some(Method::Invite) {
            return None;
        }
        let from = message.from();
        let to = message.to();
        let call_id = message.call_id();
        if self
            .calls
            .get(call_id)
            .is_some_and(|d| d.len() >= MAX_DIALOGS_PER_CALL_ID)
        {
            self.counters.dialogs_refused += 1;
            return None;
        }
        self.make_room(now, events);
        let generation = self.next_generation;
        self.next_generation += 1;
        let party = |n: super::header::NameAddr<'_>| Party {
            display_name: n
                .display_name
                .map(|d| String::from_utf8_lossy(d).into_owned()),
            uri: String::from_utf8_lossy(n.uri).into_owned(),
        };
        let call_id_text = String::from_utf8_lossy(call_id).into_owned();
        let dialog = Dialog {
            plan: MediaPlan::new(call_id_text.clone(), party(from), party(to), now),
            caller_tag: from.tag.unwrap_or_default().into(),
            callee_tag: to.tag.map(Into::into),
            invite_cseq: message.cseq().number,
            state: if to.tag.is_some() {
                State::Confirmed
            } else {
                State::Early
            },
            pending: None,
            last: None,
            last_activity: now,
            generation,
        };
        let dialogs = self.calls.entry(call_id.into()).or_default();
        dialogs.push(dialog);
        self.order.push_back((call_id.into(), generation));
        self.live += 1;
        self.counters.dialogs += 1;
        events.push(DialogEvent::Started {
            call_id: call_id_text,
        });
        Some(dialogs.len() - 1)
    }

    /// Evicts the oldest dialog while the table is full.
    fn make_room(&mut self, now: Timestamp, events: &mut Vec<DialogEvent>) {
        while self.live >= self.config.max_dialogs.max(1) {
            let Some((call_id, generation)) = self.order.pop_front() else {
                return;
            };
            let Some(dialogs) = self.calls.get_mut(&call_id) else {
                continue;
            };
            if let Some(i) = dialogs.iter().position(|d| d.generation == generation) {
                let mut dialog = dialogs.remove(i);
                if !matches!(dialog.state, State::Ended(_)) {
                    self.counters.dialogs_evicted += 1;
                    end(&mut dialog, now, EndReason::Evicted, events);
                }
                self.live -= 1;
            }
            if dialogs.is_empty() {
                self.calls.remove(&call_id);
            }
        }
    }

    fn compact_order(&mut self) {
        let calls = &self.calls;
        self.order.retain(|(call_id, generation)| {
            calls
                .get(call_id)
                .is_some_and(|d| d.iter().any(|d| d.generation == *generation))
        });
    }
}

/// Ends a dialog and reports its final plan.
fn end(dialog: &mut Dialog, now: Timestamp, reason: EndReason, events: &mut Vec<DialogEvent>) {
    dialog.state = State::Ended(now);
    dialog.pending = None;
    dialog.plan.ended = Some((now, reason));
    events.push(DialogEvent::Ended(dialog.plan.clone()));
}

/// One message applied to one dialog.
struct Step<'t> {
    dialog: &'t mut Dialog,
    counters: &'t mut DialogCounters,
    sdp_errors: &'t mut SdpErrorCounts,
    events: &'t mut Vec<DialogEvent>,
    now: Timestamp,
}

impl Step<'_> {
    fn run(&mut self, message: &SipMessage<'_>, sender: Side) {
        let sdp = match find_sdp(message.content_type(), message.body()) {
            Ok(sdp) => sdp,
            Err(e) => {
                self.sdp_errors.add_body(e);
                None
            }
        };
        match message.method() {
            Some(method) => self.request(message, method, sender, sdp),
            None => self.response(message, sender, sdp),
        }
    }

    fn request(
        &mut self,
        message: &SipMessage<'_>,
        method: Method<'_>,
        sender: Side,
        sdp: Option<&[u8]>,
    ) {
        let cseq = message.cseq().number;
        match method {
            Method::Bye => return self.end(EndReason::Bye),
            Method::Cancel if self.dialog.state == State::Early => {
                return self.end(EndReason::Cancel)
            }
            _ => {}
        }
        let Some(sdp) = sdp else { return };
        let answers_pending = self
            .dialog
            .pending
            .as_ref()
            .is_some_and(|p| p.from != sender && p.in_response);
        let offer_method = match method {
            Method::Ack | Method::Prack if answers_pending => return self.answer(sdp),
            Method::Invite => OfferMethod::Invite,
            Method::Update => OfferMethod::Update,
            Method::Prack => OfferMethod::Prack,
            _ => {
                self.counters.unexpected_sdp += 1;
                return;
            }
        };
        self.offer(sender, cseq, offer_method, false, sdp);
    }

    fn response(&mut self, message: &SipMessage<'_>, responder: Side, sdp: Option<&[u8]>) {
        let Some(status) = message.status() else {
            return;
        };
        let cseq = message.cseq();
        let method = match cseq.method {
            Method::Invite => OfferMethod::Invite,
            Method::Update => OfferMethod::Update,
            Method::Prack => OfferMethod::Prack,
            _ => return,
        };
        let to_tag = message.to().tag;
        if responder == Side::Callee && self.dialog.state == State::Early && status > 100 {
            // The fork that responds (last) is the callee.
            if let Some(tag) = to_tag {
                self.dialog.callee_tag = Some(tag.into());
            }
        }
        let initial = method == OfferMethod::Invite && cseq.number == self.dialog.invite_cseq;
        if status >= 300 {
            if initial && self.dialog.state == State::Early && !matches!(status, 401 | 407) {
                return self.end(EndReason::Rejected(status));
            }
            // A failed re-INVITE or UPDATE leaves the session as it was (RFC 3261 §14.1).
            if self
                .dialog
                .pending
                .as_ref()
                .is_some_and(|p| p.cseq == cseq.number)
            {
                self.dialog.pending = None;
            }
            return;
        }
        if status >= 200 && initial && self.dialog.state == State::Early {
            self.dialog.state = State::Confirmed;
        }
        let Some(sdp) = sdp else { return };
        let pending = self.dialog.pending.as_ref();
        let answers = pending.is_some_and(|p| {
            p.from != responder && p.cseq == cseq.number && p.method == method && !p.in_response
        });
        let repeats_answer = pending.is_none()
            && self.dialog.last.as_ref().is_some_and(|l| {
                l.offerer != responder && l.cseq == cseq.number && l.method == method
            });
        if answers || repeats_answer {
            self.answer(sdp);
        } else if method == OfferMethod::Invite {
            self.offer(responder, cseq.number, method, true, sdp);
        } else {
            self.counters.unexpected_sdp += 1;
        }
    }

    fn offer(&mut self, from: Side, cseq: u32, method: OfferMethod, in_response: bool, sdp: &[u8]) {
        match Sdp::parse(sdp) {
            Ok(_) => {
                self.dialog.pending = Some(PendingOffer {
                    from,
                    cseq,
                    method,
                    in_response,
                    sdp: sdp.to_vec(),
                });
            }
            Err(e) => self.sdp_errors.add_sdp(e),
        }
    }

    /// Applies `answer` to the pending offer, or re-applies a repeated answer.
    fn answer(&mut self, answer: &[u8]) {
        let answer_sdp = match Sdp::parse(answer) {
            Ok(sdp) => sdp,
            Err(e) => return self.sdp_errors.add_sdp(e),
        };
        let negotiated = match self.dialog.pending.take() {
            Some(p) => Negotiated {
                offerer: p.from,
                cseq: p.cseq,
                method: p.method,
                offer: p.sdp,
                answer: answer.to_vec(),
            },
            None => match self.dialog.last.take() {
                // A retransmission, or a 200 repeating the 183's answer byte for byte:
                // nothing changes.
                Some(last) if last.answer == answer => {
                    self.dialog.last = Some(last);
                    return;
                }
                Some(last) => Negotiated {
                    answer: answer.to_vec(),
                    ..last
                },
                None => {
                    self.counters.unexpected_sdp += 1;
                    return;
                }
            },
        };
        if self.dialog.last.as_ref().is_some_and(|l| {
            l.offerer == negotiated.offerer
                && l.offer == negotiated.offer
                && l.answer == negotiated.answer
        }) {
            // The same exchange seen again (a re-sent INVITE and its 200, or the same
            // dialog captured at two hops): the plan already has it.
            self.dialog.last = Some(negotiated);
            return;
        }
        // The offer parsed when it was stored; a failure here is impossible but counted.
        match Sdp::parse(&negotiated.offer) {
            Ok(offer_sdp) => {
                self.dialog.plan.apply_negotiation(
                    negotiated.offerer,
                    &offer_sdp,
                    &answer_sdp,
                    self.counters,
                    self.sdp_errors,
                );
                self.events
                    .push(DialogEvent::Negotiated(self.dialog.plan.clone()));
            }
            Err(e) => self.sdp_errors.add_sdp(e),
        }
        self.dialog.last = Some(negotiated);
    }

    fn end(&mut self, reason: EndReason) {
        end(self.dialog, self.now, reason, self.events);
    }
}

#[cfg(test)]
mod tests;
