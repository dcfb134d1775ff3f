//! The five RPCs of `appProto.App`, each following its Go counterpart in
//! internal/rpc/app/app.go (ncuhome/GeniusAuthoritarian, 474680ae).

use tokio::sync::broadcast::error::RecvError;
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Request, Response, Status};

use super::proto::app_server::App;
use super::proto::{
    AccessToken, CanceledToken, RefreshTokenRequest, TokenIdRequest, TokenOperation, TokenStatus,
    UserIdRequest, UserInfo, UserOperationId,
};
use super::CallerApp;
use crate::avatar::avatar_url;
use crate::jwt::{self, TokenType};
use crate::live::{cancel_record, TokenEvent};
use crate::state::SharedState;

pub struct EmulatorApp {
    pub state: SharedState,
}

/// `GetAuthInfo(ctx).AppCode`.
fn caller<T>(request: &Request<T>) -> Result<String, Status> {
    request
        .extensions()
        .get::<CallerApp>()
        .map(|caller| caller.0.clone())
        .ok_or_else(|| Status::unauthenticated("get tls info from peer failed"))
}

fn internal(error: impl std::fmt::Display) -> Status {
    Status::internal(error.to_string())
}

#[tonic::async_trait]
impl App for EmulatorApp {
    /// The record's point exists (whoever owns it).
    async fn get_token_status(
        &self,
        request: Request<TokenIdRequest>,
    ) -> Result<Response<TokenStatus>, Status> {
        caller(&request)?;
        let now_ms = self.state.clock.now_ms();
        let valid = self
            .state
            .store()
            .record_point_alive(request.get_ref().id, now_ms)
            .map_err(internal)?;
        Ok(Response::new(TokenStatus { valid }))
    }

    type WatchTokenOperationStream = ReceiverStream<Result<TokenOperation, Status>>;

    /// Subscribes first, then sends the snapshot (every user's oid, this app's cancelled
    /// tokens still valid), then one message per event: the Go server's order, so nothing
    /// between the snapshot and the first delta is lost.
    async fn watch_token_operation(
        &self,
        request: Request<()>,
    ) -> Result<Response<Self::WatchTokenOperationStream>, Status> {
        let app_code = caller(&request)?;
        let mut events = self.state.live.subscribe();
        let snapshot = {
            let store = self.state.store();
            let now_secs = self.state.clock.now_ms().div_euclid(1000);
            let users = store.users().map_err(internal)?;
            let cancelled = store
                .canceled_tokens(&app_code, now_secs)
                .map_err(internal)?;
            TokenOperation {
                user_operation: users
                    .iter()
                    .map(|u| UserOperationId {
                        uid: u.id,
                        operation_id: u.oid,
                    })
                    .collect(),
                canceled_token: cancelled
                    .into_iter()
                    .map(|(id, valid_before)| CanceledToken { id, valid_before })
                    .collect(),
            }
        };
        let (sender, receiver) = mpsc::channel(64);
        sender
            .send(Ok(snapshot))
            .await
            .map_err(|_| Status::cancelled("client gone"))?;
        tokio::spawn(async move {
            loop {
                let operation = match events.recv().await {
                    Ok(TokenEvent::Cancelled {
                        id,
                        app_code: owner,
                        valid_before,
                    }) => {
                        // Only the owning app hears of its tokens.
                        if owner != app_code {
                            continue;
                        }
                        TokenOperation {
                            user_operation: Vec::new(),
                            canceled_token: vec![CanceledToken { id, valid_before }],
                        }
                    }
                    Ok(TokenEvent::Oid { uid, oid }) => TokenOperation {
                        user_operation: vec![UserOperationId {
                            uid,
                            operation_id: oid,
                        }],
                        canceled_token: Vec::new(),
                    },
                    // The Go server's `endStream`: its subscription broke.
                    Err(RecvError::Lagged(_) | RecvError::Closed) => {
                        let _ = sender
                            .send(Err(Status::data_loss("send message failed")))
                            .await;
                        return;
                    }
                };
                if sender.send(Ok(operation)).await.is_err() {
                    return;
                }
            }
        });
        Ok(Response::new(ReceiverStream::new(receiver)))
    }

    /// A new access token for this app's valid refresh token; Unauthenticated otherwise.
    async fn refresh_token(
        &self,
        request: Request<RefreshTokenRequest>,
    ) -> Result<Response<AccessToken>, Status> {
        let app_code = caller(&request)?;
        let token = &request.get_ref().token;
        self.state.with_tokens(|tokens| {
            let claims = tokens
                .parse_recorded(token, TokenType::Refresh)
                .map_err(internal)?
                .filter(|c| c.app_code.as_deref() == Some(app_code.as_str()))
                .ok_or_else(|| Status::unauthenticated("refresh token invalid"))?;
            let access_token = tokens
                .access_token(claims.id, claims.uid, &app_code, &claims.payload)
                .map_err(|_| Status::internal("generate access token failed"))?;
            Ok(Response::new(AccessToken {
                access_token,
                payload: claims.payload,
            }))
        })
    }

    /// Cancels this app's refresh token; a token that does not verify is Unauthenticated, an
    /// invalid one or another app's is left alone with a success (app.go `DestroyToken`).
    async fn destroy_token(
        &self,
        request: Request<RefreshTokenRequest>,
    ) -> Result<Response<()>, Status> {
        let app_code = caller(&request)?;
        let token = &request.get_ref().token;
        if jwt::decode_verified(token, &self.state.keys.verifying).is_none() {
            return Err(Status::unauthenticated("token is malformed"));
        }
        self.state.with_tokens(|tokens| {
            let claims = tokens
                .parse_recorded(token, TokenType::Refresh)
                .map_err(internal)?
                .filter(|c| c.app_code.as_deref() == Some(app_code.as_str()));
            if let Some(claims) = claims {
                cancel_record(tokens.store, &self.state.live, &claims).map_err(internal)?;
            }
            Ok(Response::new(()))
        })
    }

    /// Any user, with every group (no app filter on this RPC).
    async fn get_user_info(
        &self,
        request: Request<UserIdRequest>,
    ) -> Result<Response<UserInfo>, Status> {
        caller(&request)?;
        let uid = request.get_ref().id;
        let store = self.state.store();
        let user = store
            .user(uid)
            .map_err(|_| Status::internal("database error"))?
            .ok_or_else(|| Status::internal("database error"))?;
        let groups = store
            .user_groups(uid)
            .map_err(|_| Status::internal("database error"))?
            .into_iter()
            .map(|g| g.name)
            .collect();
        Ok(Response::new(UserInfo {
            uid,
            name: user.name.clone(),
            avatar_url: avatar_url(&user, &self.state.base_url),
            groups,
        }))
    }
}
