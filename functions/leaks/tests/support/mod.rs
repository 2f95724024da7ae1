//! What the leak tests share: key pairs that sign like GitHub's secret scanning, and a local
//! endpoint (127.0.0.1, port 0) that serves their public keys document and counts fetches.
//! Included by `functions/leaks-refresh/tests` too, through `#[path]`.
#![allow(dead_code)] // Each test binary uses part of it.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use base64::Engine;
use p256::ecdsa::signature::Signer as _;
use p256::ecdsa::{Signature, SigningKey};
use p256::pkcs8::{EncodePublicKey, LineEnding};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// A key pair and the identifier it is published under.
pub struct Signer {
    pub id: String,
    key: SigningKey,
}

impl Signer {
    /// A fresh key pair, generated here.
    pub fn new(id: &str) -> Self {
        loop {
            // A random 32-byte string is a valid scalar but for a chance of about 2^-32.
            if let Ok(key) = SigningKey::from_slice(&rand::random::<[u8; 32]>()) {
                return Self {
                    id: id.to_owned(),
                    key,
                };
            }
        }
    }

    pub fn public_pem(&self) -> String {
        self.key
            .verifying_key()
            .to_public_key_pem(LineEnding::LF)
            .unwrap()
    }

    /// The `Github-Public-Key-Signature` of `body`: base64 of the DER signature.
    pub fn sign(&self, body: &[u8]) -> String {
        let signature: Signature = self.key.sign(body);
        base64::engine::general_purpose::STANDARD.encode(signature.to_der().as_bytes())
    }
}

/// GitHub's document shape for these signers.
pub fn document(signers: &[&Signer]) -> String {
    let keys: Vec<_> = signers
        .iter()
        .map(|s| {
            serde_json::json!({"key_identifier": s.id, "key": s.public_pem(), "is_current": true})
        })
        .collect();
    serde_json::json!({ "public_keys": keys }).to_string()
}

/// What the endpoint answers: a status and a body. With an `etag`, it sends it, and answers
/// 304 to a request that sends it back in `If-None-Match`.
#[derive(Clone)]
pub struct Answer {
    pub status: u16,
    pub body: String,
    pub etag: Option<String>,
}

/// The local public keys endpoint.
pub struct KeysServer {
    pub url: String,
    hits: Arc<AtomicUsize>,
    answer: Arc<Mutex<Answer>>,
}

impl KeysServer {
    /// Serves `body` with 200, on 127.0.0.1 and a port of the OS's choosing.
    pub async fn start(body: String) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!(
            "http://{}/meta/public_keys/secret_scanning",
            listener.local_addr().unwrap()
        );
        let hits = Arc::new(AtomicUsize::new(0));
        let answer = Arc::new(Mutex::new(Answer {
            status: 200,
            body,
            etag: None,
        }));
        let (served, current) = (hits.clone(), answer.clone());
        tokio::spawn(async move {
            while let Ok((mut stream, _)) = listener.accept().await {
                let (served, current) = (served.clone(), current.clone());
                tokio::spawn(async move {
                    let mut request = Vec::new();
                    let mut buf = [0u8; 4096];
                    while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                        match stream.read(&mut buf).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => request.extend_from_slice(&buf[..n]),
                        }
                    }
                    served.fetch_add(1, Ordering::SeqCst);
                    let head = String::from_utf8_lossy(&request).to_ascii_lowercase();
                    let answer = current.lock().unwrap().clone();
                    let unchanged = answer.etag.as_ref().is_some_and(|etag| {
                        head.contains(&format!("if-none-match: {}", etag.to_ascii_lowercase()))
                    });
                    let (status, body) = if unchanged {
                        (304, String::new())
                    } else {
                        (answer.status, answer.body)
                    };
                    let etag = answer
                        .etag
                        .map(|e| format!("ETag: {e}\r\n"))
                        .unwrap_or_default();
                    let response = format!(
                        "HTTP/1.1 {status} X\r\nContent-Type: application/json\r\n{etag}\
                         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
                        body.len()
                    );
                    let _ = stream.write_all(response.as_bytes()).await;
                    let _ = stream.shutdown().await;
                });
            }
        });
        Self { url, hits, answer }
    }

    /// Requests served so far.
    pub fn hits(&self) -> usize {
        self.hits.load(Ordering::SeqCst)
    }

    /// Answers from now on with `answer`.
    pub fn answer(&self, answer: Answer) {
        *self.answer.lock().unwrap() = answer;
    }

    /// Serves `body` with 200 from now on.
    pub fn serve(&self, body: String) {
        self.answer(Answer {
            status: 200,
            body,
            etag: None,
        });
    }
}
