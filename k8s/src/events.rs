//! Events published through kube's recorder, with its cache bounded.
//!
//! kube's `Recorder` keeps every Event it published for six minutes, to
//! count a repeat into the first one's series, and walks all of them at
//! each publish to forget the old ones. With an Event per Service, a
//! burst of 10,000 Services holds 10,000 Events and costs a walk of up to
//! 10,000 per Event: a tenth of the controller's CPU in the burst of
//! `make bench-controller` went to that walk. A fresh recorder after
//! [`EVENTS_PER_RECORDER`] bounds both, as client-go bounds its cache (an
//! LRU of 4,096); a repeat across the change starts a new Event instead of
//! counting into the old one's series.

use std::sync::Mutex;

use k8s_openapi::api::core::v1::ObjectReference;
use kube::Client;
use kube::runtime::events::{Event, Recorder, Reporter};

/// Events published through one recorder before it is replaced.
pub const EVENTS_PER_RECORDER: usize = 256;

/// Publishes Events as one reporter.
pub struct Events {
    client: Client,
    reporter: Reporter,
    /// The recorder in use and how many Events went through it.
    current: Mutex<(Recorder, usize)>,
}

impl Events {
    pub fn new(client: Client, reporter: Reporter) -> Self {
        let recorder = Recorder::new(client.clone(), reporter.clone());
        Events {
            client,
            reporter,
            current: Mutex::new((recorder, 0)),
        }
    }

    /// Publishes `event` about `regarding`.
    pub async fn publish(
        &self,
        event: &Event,
        regarding: &ObjectReference,
    ) -> Result<(), kube::Error> {
        self.recorder().publish(event, regarding).await
    }

    /// The recorder for the next Event, a fresh one every
    /// [`EVENTS_PER_RECORDER`].
    fn recorder(&self) -> Recorder {
        // A poisoned lock only means another publish panicked: the
        // recorder itself is still sound.
        let mut current = self
            .current
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if current.1 >= EVENTS_PER_RECORDER {
            *current = (Recorder::new(self.client.clone(), self.reporter.clone()), 0);
        }
        current.1 += 1;
        current.0.clone()
    }
}

#[cfg(test)]
mod tests {
    use http::{Request, Response};
    use kube::client::Body;
    use kube::runtime::events::EventType;
    use tower_test::mock;

    use super::*;

    /// The same Event, published once more than a recorder takes: the
    /// repeats count into the first one's series (PATCH) until the
    /// recorder is replaced, and the next starts a new Event (POST).
    #[tokio::test]
    async fn a_repeat_past_the_bound_starts_a_new_event() {
        let (service, mut handle) = mock::pair::<Request<Body>, Response<Body>>();
        let events = Events::new(
            Client::new(service, "default"),
            Reporter {
                controller: "ferrolb-test".into(),
                instance: None,
            },
        );
        let server = tokio::spawn(async move {
            let mut methods = Vec::new();
            for _ in 0..=EVENTS_PER_RECORDER {
                let (request, send) = handle.next_request().await.expect("a request");
                methods.push(request.method().to_string());
                // Both the creation and the merge patch send the whole
                // Event: it is what the API server would answer.
                let body = request.into_body().collect_bytes().await.expect("a body");
                send.send_response(
                    Response::builder()
                        .status(201)
                        .body(Body::from(body.to_vec()))
                        .expect("a response"),
                );
            }
            methods
        });
        let regarding = ObjectReference {
            api_version: Some("v1".into()),
            kind: Some("Service".into()),
            name: Some("web".into()),
            namespace: Some("shop".into()),
            ..ObjectReference::default()
        };
        let event = Event {
            type_: EventType::Normal,
            reason: "nodeAssigned".into(),
            note: Some("announcing from node n1".into()),
            action: "nodeAssigned".into(),
            secondary: None,
        };
        for _ in 0..=EVENTS_PER_RECORDER {
            events.publish(&event, &regarding).await.expect("published");
        }
        let methods = server.await.expect("the server");
        assert_eq!(methods[0], "POST");
        assert!(
            methods[1..EVENTS_PER_RECORDER].iter().all(|m| m == "PATCH"),
            "{methods:?}"
        );
        assert_eq!(methods[EVENTS_PER_RECORDER], "POST", "a fresh recorder");
    }
}
