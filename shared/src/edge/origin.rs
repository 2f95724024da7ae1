//! Who made a change and from where, read from the request for the audit log.

use lambda_http::request::RequestContext;
use lambda_http::{Request, RequestExt};

use crate::domain::audit::{Acting, LeakReport, Origin};
use crate::edge::auth::Principal;

/// A change by the administrator `who` (a personal credential or the bootstrap token).
pub fn admin(req: &Request, who: &Principal) -> Origin {
    of(req, who.acting.clone())
}

/// A change by the holder of the key acted on (self-service revoke and rotate).
pub fn key_holder(req: &Request) -> Origin {
    of(req, Acting::KeyHolder)
}

/// A change made because a secret scanner reported the key in public (`functions/leaks`).
pub fn secret_scanning(req: &Request, leak: LeakReport) -> Origin {
    Origin {
        leak: Some(leak),
        ..of(req, Acting::System("secret_scanning".to_owned()))
    }
}

fn of(req: &Request, actor: Acting) -> Origin {
    let source_ip = match req.request_context_ref() {
        Some(RequestContext::ApiGatewayV2(ctx)) => ctx.http.source_ip.clone(),
        Some(RequestContext::ApiGatewayV1(ctx)) => ctx.identity.source_ip.clone(),
        _ => None,
    };
    let user_agent = req
        .headers()
        .get("user-agent")
        .and_then(|v| v.to_str().ok())
        .map(|v| v.chars().take(512).collect());
    let request_id = req
        .lambda_context_ref()
        .map(|c| c.request_id.clone())
        .filter(|id| !id.is_empty());
    Origin {
        actor,
        source_ip,
        user_agent,
        request_id,
        leak: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_origin_from_a_bare_request_has_only_its_actor() {
        let req = lambda_http::http::Request::builder()
            .header("user-agent", "curl/8")
            .body(lambda_http::Body::Empty)
            .unwrap();
        let o = key_holder(&req);
        assert_eq!(o.actor, Acting::KeyHolder);
        assert_eq!(o.user_agent.as_deref(), Some("curl/8"));
        assert_eq!(o.source_ip, None);
    }
}
