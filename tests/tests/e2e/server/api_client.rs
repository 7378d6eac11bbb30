//! A small blocking HTTP client for the end-to-end tests, and a server
//! started with a bootstrap superuser.

#![allow(dead_code)]

use std::path::Path;

use reqwest::blocking::Client;
use serde_json::Value;

use crate::support::{Server, test_master_key};

/// The bootstrap superuser every [`AdminServer`] starts with.
pub const ADMIN_USER: &str = "root-admin";
/// Their password (passes the policy).
pub const ADMIN_PASSWORD: &str = "bootstrap-vN7#qL2!xR9p";

/// An answer: status, headers, and the body as JSON (Null when empty or
/// not JSON) plus the raw text.
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub json: Value,
    pub text: String,
}

impl Answer {
    /// The JSON body without its request id: what two answers that must
    /// be the same (a hidden resource and a missing one, two refusals)
    /// are compared on.
    pub fn without_request_id(&self) -> Value {
        let mut body = self.json.clone();
        if let Some(object) = body.as_object_mut() {
            object.remove("request_id");
        }
        body
    }
}

/// Sends a request with an optional bearer token and JSON body.
pub fn call(
    client: &Client,
    method: &str,
    url: &str,
    token: Option<&str>,
    body: Option<&Value>,
) -> Answer {
    let method = reqwest::Method::from_bytes(method.as_bytes()).expect("method");
    let mut request = client.request(method, url);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    if let Some(body) = body {
        request = request.json(body);
    }
    let response = request.send().expect("send");
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let text = response.text().expect("body");
    let json = serde_json::from_str(&text).unwrap_or(Value::Null);
    Answer {
        status,
        headers,
        json,
        text,
    }
}

/// A running server with a bootstrap superuser, and a client.
pub struct AdminServer {
    pub server: Server,
    pub client: Client,
    pub key: String,
}

impl AdminServer {
    /// Starts `cairn serve` on `data_dir` with the bootstrap admin and any
    /// extra environment.
    pub fn start(data_dir: &Path, extra: &[(&str, &str)]) -> AdminServer {
        let key = test_master_key(0x33);
        let mut envs: Vec<(&str, &str)> = vec![
            ("CAIRN_MASTER_KEY", key.as_str()),
            ("CAIRN_DISABLE_AUTO_ADMIN", "false"),
            ("CAIRN_ADMIN_USER", ADMIN_USER),
            ("CAIRN_ADMIN_PASSWORD", ADMIN_PASSWORD),
            ("CAIRN_RATE_LIMIT_REQUESTS", "100000"),
        ];
        envs.extend_from_slice(extra);
        let server = Server::start(data_dir, &envs);
        AdminServer {
            server,
            client: Client::new(),
            key,
        }
    }

    /// The full URL of a path.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.server.base_url)
    }

    /// Sends a request.
    pub fn call(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<&Value>,
    ) -> Answer {
        call(&self.client, method, &self.url(path), token, body)
    }

    /// Logs in and returns the access token (panics unless 200).
    pub fn login(&self, username: &str, password: &str) -> String {
        let answer = self.call(
            "POST",
            "/api/v1/auth/login",
            None,
            Some(&serde_json::json!({"username": username, "password": password})),
        );
        assert_eq!(answer.status, 200, "login as {username}: {}", answer.text);
        answer.json["access_token"]
            .as_str()
            .expect("token")
            .to_string()
    }

    /// The durable head of the log, from `/health`: it moves by exactly one
    /// per refusal, so a test can count the events a request appended.
    pub fn seq(&self) -> u64 {
        let answer = self.call("GET", "/health", None, None);
        assert_eq!(answer.status, 200, "health: {}", answer.text);
        answer.json["seq"].as_u64().expect("seq")
    }

    /// The superuser's token.
    pub fn admin_token(&self) -> String {
        self.login(ADMIN_USER, ADMIN_PASSWORD)
    }

    /// Creates an active user with a role in the admin's org; returns its id.
    pub fn create_user(
        &self,
        admin_token: &str,
        username: &str,
        password: &str,
        role: &str,
    ) -> String {
        let answer = self.call(
            "POST",
            "/api/v1/users",
            Some(admin_token),
            Some(&serde_json::json!({"username": username, "password": password, "role": role, "is_active": true})),
        );
        assert_eq!(answer.status, 201, "create {username}: {}", answer.text);
        answer.json["id"].as_str().expect("id").to_string()
    }
}

/// Sends a request and asserts the status it answers; returns the answer.
pub fn expect_status(
    api: &AdminServer,
    status: u16,
    method: &str,
    path: &str,
    token: &str,
    body: Option<Value>,
) -> Answer {
    let answer = api.call(method, path, Some(token), body.as_ref());
    assert_eq!(answer.status, status, "{method} {path}: {}", answer.text);
    answer
}

/// The `id` of a created resource, from its answer.
pub fn id_of(answer: &Answer) -> String {
    answer.json["id"].as_str().expect("id").to_string()
}
