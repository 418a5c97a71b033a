//! The check of every message before rmcp reads it: a line (stdio) or a
//! POST body (HTTP) that is not JSON is answered with a JSON-RPC parse
//! error (-32700), and JSON that is not one JSON-RPC message with an
//! invalid-request error (-32600, with the message's id when it has one),
//! as the JSON-RPC 2.0 specification says; the server keeps serving.

use serde_json::{json, Value};
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::sync::mpsc;

/// The largest message accepted, in bytes.
pub const MAX_MESSAGE_BYTES: usize = 16 << 20;

/// `Ok` for one well-formed JSON-RPC message; otherwise the error response
/// to send back.
pub fn check(message: &[u8]) -> Result<(), Value> {
    let value: Value = match serde_json::from_slice(message) {
        Ok(value) => value,
        Err(e) => return Err(error(Value::Null, -32700, &format!("parse error: {e}"))),
    };
    let Some(object) = value.as_object() else {
        return Err(error(
            Value::Null,
            -32600,
            "invalid request: expected one JSON-RPC message object",
        ));
    };
    let id = match object.get("id") {
        Some(id @ (Value::String(_) | Value::Number(_))) => id.clone(),
        _ => Value::Null,
    };
    if object.get("jsonrpc") != Some(&json!("2.0")) {
        return Err(error(
            id,
            -32600,
            "invalid request: `jsonrpc` must be \"2.0\"",
        ));
    }
    let request = object.get("method").is_some_and(Value::is_string);
    let response = !id.is_null() && (object.contains_key("result") || object.contains_key("error"));
    if !request && !response {
        return Err(error(
            id,
            -32600,
            "invalid request: neither a request, a notification nor a response",
        ));
    }
    Ok(())
}

fn error(id: Value, code: i64, message: &str) -> Value {
    json!({ "jsonrpc": "2.0", "id": id, "error": { "code": code, "message": message } })
}

/// Puts the check between `input`/`output` (the process's stdin and
/// stdout) and rmcp: returns the streams rmcp reads and writes, and a task
/// that ends once rmcp's output is closed and written out.
pub fn stdio<R, W>(
    input: R,
    output: W,
) -> (
    tokio::io::DuplexStream,
    tokio::io::DuplexStream,
    tokio::task::JoinHandle<()>,
)
where
    R: AsyncRead + Unpin + Send + 'static,
    W: AsyncWrite + Unpin + Send + 'static,
{
    let (rmcp_in, mut feed) = tokio::io::duplex(1 << 16);
    let (rmcp_out, drain) = tokio::io::duplex(1 << 16);
    let (errors, mut answers) = mpsc::unbounded_channel::<Value>();

    tokio::spawn(async move {
        let mut reader = BufReader::new(input);
        let mut line = Vec::new();
        loop {
            line.clear();
            let read = (&mut reader)
                .take(MAX_MESSAGE_BYTES as u64 + 1)
                .read_until(b'\n', &mut line)
                .await;
            match read {
                Ok(0) | Err(_) => break,
                Ok(_) => {}
            }
            if line.len() > MAX_MESSAGE_BYTES && line.last() != Some(&b'\n') {
                // Too long: answer once, and skip the rest of the line.
                let _ = errors.send(error(
                    Value::Null,
                    -32600,
                    "invalid request: message too large",
                ));
                let mut rest = Vec::new();
                if reader.read_until(b'\n', &mut rest).await.is_err() {
                    break;
                }
                continue;
            }
            let text = line.trim_ascii();
            if text.is_empty() {
                continue;
            }
            match check(text) {
                Ok(()) => {
                    if feed.write_all(text).await.is_err() || feed.write_all(b"\n").await.is_err() {
                        break;
                    }
                }
                Err(answer) => {
                    let _ = errors.send(answer);
                }
            }
        }
        // End of input: rmcp sees it and stops.
        let _ = feed.shutdown().await;
    });

    let writer = tokio::spawn(async move {
        let mut output = output;
        let mut lines = BufReader::new(drain).lines();
        let mut errors_open = true;
        loop {
            let next = tokio::select! {
                line = lines.next_line() => match line {
                    Ok(Some(line)) => line,
                    _ => break,
                },
                answer = answers.recv(), if errors_open => match answer {
                    Some(answer) => answer.to_string(),
                    None => { errors_open = false; continue; }
                },
            };
            if output.write_all(next.as_bytes()).await.is_err()
                || output.write_all(b"\n").await.is_err()
                || output.flush().await.is_err()
            {
                break;
            }
        }
    });
    (rmcp_in, rmcp_out, writer)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn malformed_messages_get_the_errors_json_rpc_names() {
        assert!(check(br#"{"jsonrpc":"2.0","id":1,"method":"tools/list"}"#).is_ok());
        assert!(check(br#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#).is_ok());
        assert!(check(br#"{"jsonrpc":"2.0","id":"a","result":{}}"#).is_ok());
        let parse = check(b"{not json").unwrap_err();
        assert_eq!(parse["error"]["code"], -32700);
        assert_eq!(parse["id"], Value::Null);
        let invalid = check(br#"{"jsonrpc":"2.0","id":7,"bogus":true}"#).unwrap_err();
        assert_eq!(invalid["error"]["code"], -32600);
        assert_eq!(invalid["id"], 7);
        assert_eq!(check(b"[1,2]").unwrap_err()["error"]["code"], -32600);
        assert_eq!(check(br#"{"id":1,"method":"x"}"#).unwrap_err()["id"], 1);
    }
}
