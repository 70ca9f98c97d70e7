//! Secrets and what is keyed with them: the tokens in links that act for a
//! contact (unsubscribe, click, open) and coupon codes, which grant value.
//! Both are HMAC-SHA256 of the send they belong to under a secret nobody
//! outside holds, so that knowing the scheme and a contact id is not
//! enough to forge one (guarantee: unguessable codes).
//!
//! The secret comes from `FLOWC_SECRET` (or the file `FLOWC_SECRET_FILE`);
//! `FLOWC_PREVIOUS_SECRETS` (comma-separated) lists secrets still accepted
//! while links signed with them are in inboxes, for rotation. Without one,
//! the state creates its own random secret once and keeps it, so `run` and
//! `serve` on the same state agree.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use hmac::{Hmac, Mac};
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

/// The shortest secret accepted from the environment: 128 bits of a random
/// hex or base64 string.
pub const MIN_SECRET_LEN: usize = 32;

/// The MAC bytes a token carries: 128 bits.
const TOKEN_MAC: usize = 16;

#[derive(Clone)]
pub struct Keys {
    current: Vec<u8>,
    previous: Vec<Vec<u8>>,
}

/// Never printed: a secret in a log is a secret no more.
impl std::fmt::Debug for Keys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Keys({} previous)", self.previous.len())
    }
}

#[derive(Debug, PartialEq, Eq)]
pub struct KeyError(pub String);

impl std::fmt::Display for KeyError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// What a link token lets its holder do.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Purpose {
    Unsubscribe = 1,
    Click = 2,
    Open = 3,
}

/// A verified token: the send it belongs to, what it is for, and for a
/// click, which of the message's links (its name in the template).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Token {
    pub purpose: Purpose,
    /// The id of the action (`SendKey::id()`, `-N` for a rule's N-th).
    pub action_id: String,
    pub link: Option<String>,
}

impl Keys {
    pub fn new(current: Vec<u8>, previous: Vec<Vec<u8>>) -> Keys {
        Keys { current, previous }
    }

    /// The secrets the environment gives, if any.
    ///
    /// # Errors
    /// A secret file that cannot be read, or a secret shorter than
    /// [`MIN_SECRET_LEN`].
    pub fn from_env() -> Result<Option<Keys>, KeyError> {
        let current = match (
            std::env::var("FLOWC_SECRET").ok().filter(|s| !s.is_empty()),
            std::env::var_os("FLOWC_SECRET_FILE"),
        ) {
            (Some(secret), _) => secret,
            (None, Some(path)) => std::fs::read_to_string(&path)
                .map_err(|e| {
                    KeyError(format!(
                        "cannot read FLOWC_SECRET_FILE {}: {e}",
                        std::path::Path::new(&path).display()
                    ))
                })?
                .trim()
                .to_string(),
            (None, None) => return Ok(None),
        };
        let previous: Vec<String> = std::env::var("FLOWC_PREVIOUS_SECRETS")
            .unwrap_or_default()
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .collect();
        for (name, secret) in std::iter::once(("FLOWC_SECRET", &current))
            .chain(previous.iter().map(|p| ("FLOWC_PREVIOUS_SECRETS", p)))
        {
            if secret.len() < MIN_SECRET_LEN {
                return Err(KeyError(format!(
                    "{name}: a secret must be at least {MIN_SECRET_LEN} characters \
                     (e.g. `openssl rand -hex 32`)"
                )));
            }
        }
        Ok(Some(Keys::new(
            current.into_bytes(),
            previous.into_iter().map(String::into_bytes).collect(),
        )))
    }

    fn mac(key: &[u8], domain: &[u8], message: &[u8]) -> HmacSha256 {
        let mut mac = HmacSha256::new_from_slice(key).expect("HMAC takes a key of any length");
        mac.update(domain);
        mac.update(&(message.len() as u64).to_be_bytes());
        mac.update(message);
        mac
    }

    /// A token for a link of the action `action_id`: its purpose, the id and
    /// the link name, then a MAC of them, in URL-safe base64. No contact id
    /// or address is in it.
    pub fn token(&self, purpose: Purpose, action_id: &str, link: Option<&str>) -> String {
        let mut payload = vec![purpose as u8];
        payload.extend_from_slice(action_id.as_bytes());
        if let Some(link) = link {
            payload.push(0);
            payload.extend_from_slice(link.as_bytes());
        }
        let tag = Self::mac(&self.current, b"flowc token 1", &payload)
            .finalize()
            .into_bytes();
        payload.extend_from_slice(&tag[..TOKEN_MAC]);
        URL_SAFE_NO_PAD.encode(payload)
    }

    /// The token's content when its MAC is right under the current secret
    /// or a previous one; `None` for anything forged, altered or cut short.
    pub fn verify(&self, token: &str) -> Option<Token> {
        if token.len() > 512 {
            return None;
        }
        let bytes = URL_SAFE_NO_PAD.decode(token).ok()?;
        if bytes.len() < TOKEN_MAC + 2 {
            return None;
        }
        let (payload, tag) = bytes.split_at(bytes.len() - TOKEN_MAC);
        let valid = std::iter::once(&self.current)
            .chain(&self.previous)
            .any(|key| {
                Self::mac(key, b"flowc token 1", payload)
                    .verify_truncated_left(tag)
                    .is_ok()
            });
        if !valid {
            return None;
        }
        let purpose = match payload[0] {
            1 => Purpose::Unsubscribe,
            2 => Purpose::Click,
            3 => Purpose::Open,
            _ => return None,
        };
        let rest = std::str::from_utf8(&payload[1..]).ok()?;
        let (action_id, link) = match rest.split_once('\0') {
            Some((id, link)) => (id, Some(link.to_string())),
            None => (rest, None),
        };
        Some(Token {
            purpose,
            action_id: action_id.to_string(),
            link,
        })
    }

    /// The coupon code of a send: `PREFIX-XXXXX-XXXXX`, 50 bits of a MAC of
    /// the send's key in Crockford's base 32 (no I, L, O or U: nothing to
    /// misread at a till). Without the secret, a code cannot be computed
    /// from a contact id; with it, the same send always has the same code.
    pub fn coupon_code(&self, prefix: &str, key: &crate::state::SendKey) -> String {
        let message = [
            key.flow.as_str(),
            key.rule.as_str(),
            key.contact.as_str(),
            key.occurrence.as_str(),
        ]
        .join("\0");
        let tag = Self::mac(&self.current, b"flowc coupon 1", message.as_bytes())
            .finalize()
            .into_bytes();
        let mut bits = u64::from_be_bytes(tag[..8].try_into().expect("8 bytes"));
        let mut code = String::with_capacity(11);
        for i in 0..10 {
            if i == 5 {
                code.push('-');
            }
            code.push(CROCKFORD[(bits >> 59) as usize] as char);
            bits <<= 5;
        }
        let prefix: String = prefix
            .chars()
            .filter(char::is_ascii_alphanumeric)
            .map(|c| c.to_ascii_uppercase())
            .collect();
        if prefix.is_empty() {
            code
        } else {
            format!("{prefix}-{code}")
        }
    }
}

const CROCKFORD: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";

/// A code as typed at a till: upper case, blanks dropped, and in its
/// random part the letters people confuse with digits read as those
/// digits (O as 0, I and L as 1), as Crockford's base 32 intends.
pub fn normalize_code(typed: &str) -> String {
    let code: String = typed
        .chars()
        .filter(|c| !c.is_whitespace())
        .map(|c| c.to_ascii_uppercase())
        .collect();
    let Some(split) = code.len().checked_sub(11).filter(|_| code.is_ascii()) else {
        return code;
    };
    let (prefix, random) = code.split_at(split);
    let random: String = random
        .chars()
        .map(|c| match c {
            'O' => '0',
            'I' | 'L' => '1',
            c => c,
        })
        .collect();
    format!("{prefix}{random}")
}

/// The keys of a state: the environment's secrets, else the state's own.
///
/// # Errors
/// A bad secret in the environment, or a state that cannot store its own.
pub fn for_state(store: &mut dyn crate::state::StateStore) -> Result<Keys, KeyError> {
    match Keys::from_env()? {
        Some(keys) => Ok(keys),
        None => Ok(Keys::new(
            store.own_secret().map_err(|e| KeyError(e.0))?,
            Vec::new(),
        )),
    }
}

/// A new random secret (the state's own, when the environment gives none).
pub fn random_secret() -> Result<Vec<u8>, KeyError> {
    let mut bytes = vec![0u8; 32];
    getrandom::getrandom(&mut bytes)
        .map_err(|e| KeyError(format!("no random numbers for a secret: {e}")))?;
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::SendKey;

    fn keys() -> Keys {
        Keys::new(b"0123456789abcdef0123456789abcdef".to_vec(), Vec::new())
    }

    #[test]
    fn a_token_verifies_and_any_change_to_it_does_not() {
        let keys = keys();
        let token = keys.token(Purpose::Click, "1f2e3d4c5b6a7988-1", Some("shop"));
        assert_eq!(
            keys.verify(&token),
            Some(Token {
                purpose: Purpose::Click,
                action_id: "1f2e3d4c5b6a7988-1".into(),
                link: Some("shop".into()),
            })
        );
        // Every single-character change, every truncation: refused.
        let alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
        for i in 0..token.len() {
            for c in alphabet.chars().step_by(7) {
                let mut altered: Vec<char> = token.chars().collect();
                if altered[i] == c {
                    continue;
                }
                altered[i] = c;
                let altered: String = altered.into_iter().collect();
                assert_eq!(keys.verify(&altered), None, "{altered}");
            }
            assert_eq!(keys.verify(&token[..i]), None);
        }
        // Another secret's token is refused; a previous secret is accepted.
        let other = Keys::new(b"another secret, 32 bytes or more!".to_vec(), Vec::new());
        let old_token = other.token(Purpose::Unsubscribe, "00aa", None);
        assert_eq!(keys.verify(&old_token), None);
        let rotated = Keys::new(keys.current.clone(), vec![other.current.clone()]);
        assert!(rotated.verify(&old_token).is_some());
        assert_eq!(keys.verify(""), None);
        assert_eq!(keys.verify("%%%"), None);
    }

    #[test]
    fn a_token_carries_no_contact_data() {
        let token = keys().token(Purpose::Unsubscribe, "1f2e3d4c5b6a7988", None);
        let bytes = URL_SAFE_NO_PAD.decode(&token).unwrap();
        assert_eq!(bytes.len(), 1 + 16 + TOKEN_MAC);
    }

    #[test]
    fn coupon_codes_are_keyed_typable_and_stable() {
        let key = |contact: &str| SendKey {
            flow: "birthday".into(),
            rule: "offer".into(),
            contact: contact.into(),
            occurrence: "birthday/2027".into(),
        };
        let code = keys().coupon_code("offer", &key("c001"));
        assert_eq!(code, keys().coupon_code("offer", &key("c001")));
        assert_ne!(code, keys().coupon_code("offer", &key("c002")));
        let other = Keys::new(b"another secret, 32 bytes or more!".to_vec(), Vec::new());
        assert_ne!(code, other.coupon_code("offer", &key("c001")));
        let (prefix, rest) = code.split_once('-').unwrap();
        assert_eq!(prefix, "OFFER");
        assert_eq!(rest.len(), 11);
        assert!(rest
            .chars()
            .all(|c| c == '-' || (CROCKFORD.contains(&(c as u8)) && !"ILOU".contains(c))));
    }
}
