//! Personal data under per-subject keys (GDPR art. 17 erasure).
//!
//! A person's name, email, IP address and user agent never sit in the clear
//! in a record: each event seals them under a random key of the person they
//! are about. That key is stored wrapped (XSalsa20-Poly1305 under a key
//! derived from the master key) in the `subject_keys` tree. Erasing a person
//! deletes the key: their personal data becomes unreadable everywhere, while
//! the sealed bytes stay in the records, so the chain still verifies.

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, RwLock};

use cairn_schemas::{PersonalData, Sealed};
use uuid::Uuid;
use zeroize::Zeroizing;

use super::codec;
use super::erasure_ledger::{ErasureLedger, LedgerError};
use super::store::{EventStore, StoreError};
use crate::crypto::{self, DerivedKey, MasterKey};
use crate::entropy::{Entropy, random_array};

/// A personal field as a reader sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Personal {
    /// The data, readable.
    Data(PersonalData),
    /// The subject was erased (or the key is gone): nothing to read.
    Erased,
}

/// Why personal data could not be sealed or opened.
#[derive(Debug, thiserror::Error)]
pub enum PersonalError {
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A wrapped subject key does not open under the master key: the master
    /// key is not the one this data dir was written with.
    #[error(
        "subject key of {0} does not open under this master key (wrong CAIRN_MASTER_KEY for this data dir?)"
    )]
    WrongMasterKey(Uuid),
    /// A sealed item does not open under its subject's key.
    #[error("personal data of subject {0} does not open: the record was altered")]
    Forged(Uuid),
    /// Encoding failed.
    #[error(transparent)]
    Codec(#[from] codec::CodecError),
    /// The erasure ledger could not be read or written.
    #[error(transparent)]
    Ledger(#[from] LedgerError),
}

type SubjectKey = Zeroizing<[u8; 32]>;

/// The subject keys, unwrapped lazily and cached in memory.
#[derive(Debug)]
pub(crate) struct SubjectKeys {
    store: Arc<dyn EventStore>,
    wrap_key: DerivedKey,
    /// `None` caches "erased or never existed".
    cache: RwLock<HashMap<Uuid, Option<Arc<SubjectKey>>>>,
    /// Serializes key creation: two first seals for one subject must not
    /// each create (and store) a key, or the loser's ciphertext would never
    /// open again.
    creating: std::sync::Mutex<()>,
    /// The erasure ledger (see [`super::erasure_ledger`]), opened on first
    /// use; the lock also serializes appends to it.
    ledger: std::sync::Mutex<Option<ErasureLedger>>,
    /// The ledger's key (`info::ERASURE_LEDGER`).
    ledger_key: DerivedKey,
}

const WRAPPED_LEN: usize = 24 + 16 + 32;

impl SubjectKeys {
    pub(crate) fn new(store: Arc<dyn EventStore>, master: &MasterKey) -> SubjectKeys {
        SubjectKeys {
            store,
            wrap_key: crypto::derive_key(master, crypto::info::SUBJECT_KEY_WRAP),
            cache: RwLock::new(HashMap::new()),
            creating: std::sync::Mutex::new(()),
            ledger: std::sync::Mutex::new(None),
            ledger_key: crypto::derive_key(master, crypto::info::ERASURE_LEDGER),
        }
    }

    fn cached(&self, subject: &Uuid) -> Option<Option<Arc<SubjectKey>>> {
        match self.cache.read() {
            Ok(cache) => cache.get(subject).cloned(),
            Err(poisoned) => poisoned.into_inner().get(subject).cloned(),
        }
    }

    fn remember(&self, subject: Uuid, key: Option<Arc<SubjectKey>>) {
        let mut cache = match self.cache.write() {
            Ok(cache) => cache,
            Err(poisoned) => poisoned.into_inner(),
        };
        cache.insert(subject, key);
    }

    /// The subject's key, if it exists and was not erased.
    fn load(&self, subject: Uuid) -> Result<Option<Arc<SubjectKey>>, PersonalError> {
        if let Some(known) = self.cached(&subject) {
            return Ok(known);
        }
        let key = match self.store.subject_key_get(subject.as_bytes())? {
            None => None,
            Some(wrapped) => Some(Arc::new(self.unwrap_key(subject, &wrapped)?)),
        };
        self.remember(subject, key.clone());
        Ok(key)
    }

    fn unwrap_key(&self, subject: Uuid, wrapped: &[u8]) -> Result<SubjectKey, PersonalError> {
        if wrapped.len() != WRAPPED_LEN {
            return Err(PersonalError::WrongMasterKey(subject));
        }
        let (nonce, ciphertext) = wrapped.split_at(24);
        let nonce: [u8; 24] = nonce
            .try_into()
            .map_err(|_| PersonalError::WrongMasterKey(subject))?;
        let plain = crypto::secretbox::open(self.wrap_key.as_bytes(), &nonce, ciphertext)
            .map_err(|_| PersonalError::WrongMasterKey(subject))?;
        let key: [u8; 32] = plain
            .as_slice()
            .try_into()
            .map_err(|_| PersonalError::WrongMasterKey(subject))?;
        Ok(Zeroizing::new(key))
    }

    /// The subject's key, created (and stored wrapped) on first use.
    fn load_or_create(
        &self,
        subject: Uuid,
        entropy: &dyn Entropy,
    ) -> Result<Arc<SubjectKey>, PersonalError> {
        if let Some(key) = self.load(subject)? {
            return Ok(key);
        }
        let _creating = match self.creating.lock() {
            Ok(guard) => guard,
            Err(poisoned) => poisoned.into_inner(),
        };
        if let Some(key) = self.load(subject)? {
            return Ok(key);
        }
        let key = Zeroizing::new(random_array::<32>(entropy));
        let (nonce, ciphertext) =
            crypto::secretbox::seal_random(self.wrap_key.as_bytes(), key.as_slice(), entropy);
        let mut wrapped = Vec::with_capacity(WRAPPED_LEN);
        wrapped.extend_from_slice(&nonce);
        wrapped.extend_from_slice(&ciphertext);
        self.store.subject_key_put(subject.as_bytes(), &wrapped)?;
        let key = Arc::new(key);
        self.remember(subject, Some(Arc::clone(&key)));
        Ok(key)
    }

    /// Seals one subject's personal data.
    pub(crate) fn seal(
        &self,
        subject: Uuid,
        data: &PersonalData,
        entropy: &dyn Entropy,
    ) -> Result<Sealed, PersonalError> {
        let plain = Zeroizing::new(codec::encode(data)?);
        self.seal_bytes(subject, &plain, entropy)
    }

    /// Seals any bytes under the subject's key (a credential, say).
    pub(crate) fn seal_bytes(
        &self,
        subject: Uuid,
        plain: &[u8],
        entropy: &dyn Entropy,
    ) -> Result<Sealed, PersonalError> {
        let key = self.load_or_create(subject, entropy)?;
        let (nonce, ciphertext) = crypto::secretbox::seal_random(&key, plain, entropy);
        Ok(Sealed {
            subject,
            nonce,
            ciphertext,
        })
    }

    /// Opens sealed bytes: `None` when the subject was erased.
    pub(crate) fn open_bytes(
        &self,
        sealed: &Sealed,
    ) -> Result<Option<Zeroizing<Vec<u8>>>, PersonalError> {
        let Some(key) = self.load(sealed.subject)? else {
            return Ok(None);
        };
        crypto::secretbox::open(&key, &sealed.nonce, &sealed.ciphertext)
            .map(Some)
            .map_err(|_| PersonalError::Forged(sealed.subject))
    }

    /// Opens a sealed item: the data, or [`Personal::Erased`].
    pub(crate) fn open(&self, sealed: &Sealed) -> Result<Personal, PersonalError> {
        match self.open_bytes(sealed)? {
            Some(plain) => Ok(Personal::Data(codec::decode(&plain)?)),
            None => Ok(Personal::Erased),
        }
    }

    /// The per-message key of a sealed item (see `crypto::opening`): it
    /// opens that item alone. `None` when the subject was erased.
    pub(crate) fn opening(
        &self,
        sealed: &Sealed,
    ) -> Result<Option<Zeroizing<[u8; 32]>>, PersonalError> {
        Ok(self
            .load(sealed.subject)?
            .map(|key| crypto::opening::opening_key(&key, &sealed.nonce)))
    }

    /// Runs `f` on the erasure ledger at `path`, opening (and verifying)
    /// it on first use. Holds the ledger's lock meanwhile, so appends are
    /// serialized.
    pub(crate) fn with_ledger<R>(
        &self,
        path: &Path,
        f: impl FnOnce(&mut ErasureLedger) -> Result<R, PersonalError>,
    ) -> Result<R, PersonalError> {
        let mut slot = match self.ledger.lock() {
            Ok(guard) => guard,
            Err(poisoned) => poisoned.into_inner(),
        };
        let ledger = match &mut *slot {
            Some(ledger) => ledger,
            empty => empty.insert(ErasureLedger::open_keyed(path, self.ledger_key.as_bytes())?),
        };
        f(ledger)
    }

    /// A fingerprint of `value` keyed by `subject`'s key (see
    /// [`crypto::fingerprint::subject_digest`]): `None` when the subject
    /// has no key (erased, or never sealed anything), so nobody, the
    /// server included, can compute it again after an erasure.
    pub(crate) fn fingerprint(
        &self,
        subject: Uuid,
        value: &[u8],
    ) -> Result<Option<[u8; 32]>, PersonalError> {
        Ok(self
            .load(subject)?
            .map(|key| crypto::fingerprint::subject_digest(&key, value)))
    }

    /// Deletes the subject's key. Returns whether there was one. The caller
    /// makes the deletion durable.
    pub(crate) fn erase(&self, subject: Uuid) -> Result<bool, PersonalError> {
        let existed = self.store.subject_key_delete(subject.as_bytes())?;
        self.remember(subject, None);
        Ok(existed)
    }
}
