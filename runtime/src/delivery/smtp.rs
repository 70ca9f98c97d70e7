//! E-mail over SMTP. lettre 0.11.23 never sets TCP_NODELAY, which caps one
//! connection near 23 messages/s (Nagle + delayed ACK): this outbox opens
//! the TCP stream itself, with `set_nodelay(true)`, and hands it to
//! `AsyncSmtpConnection::connect_with_transport`. One connection, reused;
//! messages go one at a time (concurrency 1, bounded by construction).
//! Other actions (SMS, push, tasks, webhooks) go to the folder outbox.

use std::time::Duration;

use lettre::address::Envelope;
use lettre::transport::smtp::authentication::{Credentials, Mechanism};
use lettre::transport::smtp::client::AsyncSmtpConnection;
use lettre::transport::smtp::extension::ClientId;

use super::{DeliveryError, FileOutbox, Outbox};

pub struct SmtpOutbox {
    runtime: tokio::runtime::Runtime,
    address: String,
    credentials: Option<Credentials>,
    connection: Option<AsyncSmtpConnection>,
    others: FileOutbox,
}

impl SmtpOutbox {
    /// `address` is `host:port`. No connection is made until a message goes.
    pub fn new(
        address: &str,
        credentials: Option<(String, String)>,
        others: FileOutbox,
    ) -> Result<SmtpOutbox, DeliveryError> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| DeliveryError(format!("cannot start the SMTP client: {e}")))?;
        Ok(SmtpOutbox {
            runtime,
            address: address.to_string(),
            credentials: credentials.map(|(user, password)| Credentials::new(user, password)),
            connection: None,
            others,
        })
    }

    fn send(&mut self, envelope: &Envelope, message: &[u8]) -> Result<(), DeliveryError> {
        let address = self.address.clone();
        let credentials = self.credentials.clone();
        let mut connection = self.connection.take();
        let result = self.runtime.block_on(async {
            if connection
                .as_ref()
                .is_none_or(AsyncSmtpConnection::has_broken)
            {
                connection = Some(connect(&address, credentials.as_ref()).await?);
            }
            let c = connection.as_mut().expect("connected above");
            c.send(envelope, message).await.map(|_| ()).map_err(|e| {
                DeliveryError(format!(
                    "the SMTP server at {address} refused the message: {e}"
                ))
            })
        });
        // Keep the connection for the next message only if all went well.
        if result.is_ok() {
            self.connection = connection;
        }
        result
    }
}

async fn connect(
    address: &str,
    credentials: Option<&Credentials>,
) -> Result<AsyncSmtpConnection, DeliveryError> {
    let stream = tokio::time::timeout(
        Duration::from_secs(30),
        tokio::net::TcpStream::connect(address),
    )
    .await
    .map_err(|_| {
        DeliveryError(format!(
            "the SMTP server at {address} did not answer in 30 s"
        ))
    })?
    .map_err(|e| DeliveryError(format!("cannot reach the SMTP server at {address}: {e}")))?;
    stream
        .set_nodelay(true)
        .map_err(|e| DeliveryError(format!("cannot set TCP_NODELAY: {e}")))?;
    let hello = ClientId::Domain("flowc.localhost".into());
    let mut connection = AsyncSmtpConnection::connect_with_transport(Box::new(stream), &hello)
        .await
        .map_err(|e| DeliveryError(format!("the SMTP server at {address} did not greet: {e}")))?;
    if let Some(credentials) = credentials {
        connection
            .auth(&[Mechanism::Plain, Mechanism::Login], credentials)
            .await
            .map_err(|e| {
                DeliveryError(format!(
                    "the SMTP server at {address} refused the credentials: {e}"
                ))
            })?;
    }
    Ok(connection)
}

impl Outbox for SmtpOutbox {
    fn deliver(&mut self, payload: &serde_json::Value) -> Result<(), DeliveryError> {
        let mut others = Vec::new();
        for action in payload["actions"].as_array().into_iter().flatten() {
            if action["kind"] != "email" {
                others.push(action.clone());
                continue;
            }
            let parse = |key: &str| {
                action[key]
                    .as_str()
                    .unwrap_or("")
                    .parse::<lettre::Address>()
                    .map_err(|e| DeliveryError(format!("{key}: {e}")))
            };
            let envelope =
                Envelope::new(Some(parse("envelope_from")?), vec![parse("envelope_to")?])
                    .map_err(|e| DeliveryError(format!("no envelope: {e}")))?;
            let message = action["eml"].as_str().unwrap_or("");
            self.send(&envelope, message.as_bytes())?;
        }
        if !others.is_empty() {
            self.others
                .deliver(&serde_json::json!({ "actions": others }))?;
        }
        Ok(())
    }
}
