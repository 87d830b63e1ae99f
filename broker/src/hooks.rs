//! rmqtt hook handlers: authentication through our [`Authenticator`] and the topic rules of
//! [`crate::acl`] on every SUBSCRIBE and PUBLISH.
//!
//! rmqtt hands the authenticate hook only the CONNECT data, and the ACL hooks only the session,
//! so the identity found at CONNECT is parked in `pending` (keyed by rmqtt's per-connection
//! `Id`) and moved into the session's `extra_attrs` once the session exists (ClientConnected).
//! It then lives and dies with the session. A session without an identity is denied everything.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use rmqtt::codec::v5::SubscribeAckReason;
use rmqtt::context::ServerContext;
use rmqtt::hook::{Handler, HookResult, Parameter, ReturnType, Type};
use rmqtt::session::Session;
use rmqtt::types::{
    AuthResult, ConnectInfo, Id, LastWill, PublishAclResult, Subscribe, SubscribeAclResult,
};

use crate::acl;
use crate::{Authenticator, Identity};

/// Key of the identity in a session's `extra_attrs`.
const IDENTITY_ATTR: &str = "sotto.identity";

/// A CONNECT that authenticated but never became a session (the handshake failed later) would
/// leave its entry behind; entries older than this are pruned on the next authentication.
const PENDING_TTL: Duration = Duration::from_secs(120);

type Pending = Arc<Mutex<HashMap<Id, (Instant, Identity)>>>;

/// Registers the handlers on `scx` and enables them.
pub(crate) async fn register(scx: &ServerContext, auth: Arc<dyn Authenticator>) {
    let pending = Pending::default();
    let reg = scx.extends.hook_mgr().register();
    reg.add(
        Type::ClientAuthenticate,
        Box::new(Authenticate {
            auth,
            pending: pending.clone(),
        }),
    )
    .await;
    reg.add(Type::ClientConnected, Box::new(AttachIdentity { pending }))
        .await;
    reg.add(Type::ClientSubscribeCheckAcl, Box::new(CheckAcl))
        .await;
    reg.add(Type::MessagePublishCheckAcl, Box::new(CheckAcl))
        .await;
    reg.start().await;
}

struct Authenticate {
    auth: Arc<dyn Authenticator>,
    pending: Pending,
}

#[async_trait]
impl Handler for Authenticate {
    async fn hook(&self, param: &Parameter, acc: Option<HookResult>) -> ReturnType {
        let Parameter::ClientAuthenticate(info) = param else {
            return (true, acc);
        };
        let result = self.authenticate(info).await;
        // Stop the chain: ours is the only word on who gets in.
        (false, Some(HookResult::AuthResult(result)))
    }
}

impl Authenticate {
    async fn authenticate(&self, info: &ConnectInfo) -> AuthResult {
        let client_id = info.client_id();
        let (Some(username), Some(password)) = (info.username(), info.password()) else {
            tracing::info!(%client_id, "MQTT connection refused: no credentials");
            return AuthResult::NotAuthorized;
        };
        let Some(identity) = self.auth.authenticate(username, password).await else {
            tracing::info!(%client_id, "MQTT connection refused: bad username or password");
            return AuthResult::BadUsernameOrPassword;
        };
        if let Identity::Pharmacy { pharmacy_id } = &identity
            && !acl::valid_pharmacy_id(pharmacy_id)
        {
            // A bug in the server's records, not the client's fault; refuse rather than let a
            // `+` or `/` widen the topic rules.
            tracing::error!(%client_id, "MQTT connection refused: authenticator returned an invalid pharmacy id");
            return AuthResult::NotAuthorized;
        }
        if !acl::client_id_allowed(&identity, client_id) {
            tracing::warn!(%client_id, ?identity, "MQTT connection refused: client id not allowed for this identity");
            return AuthResult::NotAuthorized;
        }
        // rmqtt publishes a Last Will without the publish ACL hook, so a pharmacy could
        // otherwise plant a message on another pharmacy's state topic by disconnecting.
        if let Some(topic) = will_topic(info)
            && !acl::may_publish(&identity, topic)
        {
            tracing::warn!(%client_id, %topic, "MQTT connection refused: last will topic not allowed");
            return AuthResult::NotAuthorized;
        }
        let mut pending = self.pending.lock().unwrap_or_else(PoisonError::into_inner);
        pending.retain(|_, (at, _)| at.elapsed() < PENDING_TTL);
        pending.insert(info.id().clone(), (Instant::now(), identity));
        // Not a superuser: superusers bypass the ACL hooks entirely.
        AuthResult::Allow(false, None)
    }
}

fn will_topic(info: &ConnectInfo) -> Option<&str> {
    Some(match info.last_will()? {
        LastWill::V3(will) => &will.topic,
        LastWill::V5(will) => &will.topic,
    })
}

struct AttachIdentity {
    pending: Pending,
}

#[async_trait]
impl Handler for AttachIdentity {
    async fn hook(&self, param: &Parameter, acc: Option<HookResult>) -> ReturnType {
        if let Parameter::ClientConnected(session) = param {
            let found = {
                let mut pending = self.pending.lock().unwrap_or_else(PoisonError::into_inner);
                pending.remove(&session.id)
            };
            if let Some((_, identity)) = found {
                let mut attrs = session.extra_attrs.write().await;
                attrs.insert(IDENTITY_ATTR.into(), identity);
            }
        }
        (true, acc)
    }
}

struct CheckAcl;

#[async_trait]
impl Handler for CheckAcl {
    async fn hook(&self, param: &Parameter, acc: Option<HookResult>) -> ReturnType {
        let result = match param {
            Parameter::ClientSubscribeCheckAcl(session, sub) => {
                HookResult::SubscribeAclResult(check_subscribe(session, sub).await)
            }
            Parameter::MessagePublishCheckAcl(session, publish) => {
                let identity = identity_of(session).await;
                let allowed = identity.is_some_and(|i| acl::may_publish(&i, &publish.topic));
                if allowed {
                    HookResult::PublishAclResult(PublishAclResult::allow())
                } else {
                    // Dropped, not disconnected: a misbehaving client keeps its connection and
                    // its PUBACK, so its other traffic is unaffected. Never log the payload.
                    tracing::warn!(client_id = %session.id.client_id, topic = %publish.topic, "MQTT publish denied and dropped");
                    HookResult::PublishAclResult(PublishAclResult::rejected(false, None))
                }
            }
            _ => return (true, acc),
        };
        (false, Some(result))
    }
}

async fn check_subscribe(session: &Session, sub: &Subscribe) -> SubscribeAclResult {
    let identity = identity_of(session).await;
    if identity.is_some_and(|i| acl::may_subscribe(&i, &sub.topic_filter)) {
        SubscribeAclResult::new_success(sub.opts.qos(), None)
    } else {
        tracing::warn!(client_id = %session.id.client_id, filter = %sub.topic_filter, "MQTT subscribe denied");
        SubscribeAclResult::new_failure(SubscribeAckReason::NotAuthorized)
    }
}

async fn identity_of(session: &Session) -> Option<Identity> {
    session
        .extra_attrs
        .read()
        .await
        .get::<Identity>(IDENTITY_ATTR)
        .cloned()
}
