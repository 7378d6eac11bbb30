//! The web console's files, embedded in the binary at build time: nothing
//! is read from disk or fetched from elsewhere at run time, so the console
//! is exactly the one this binary was built with.

/// One embedded file.
#[derive(Debug)]
pub struct Asset {
    /// Its name under `/console/` (one path segment).
    pub name: &'static str,
    /// Its `Content-Type`.
    pub content_type: &'static str,
    /// Its bytes.
    pub body: &'static [u8],
}

const JS: &str = "text/javascript; charset=utf-8";

macro_rules! asset {
    ($name:literal, $content_type:expr) => {
        Asset {
            name: $name,
            content_type: $content_type,
            body: include_bytes!(concat!("../../../console/", $name)),
        }
    };
}

/// The app shell, served at `/`.
pub const INDEX: Asset = asset!("index.html", "text/html; charset=utf-8");

/// Every file served under `/console/`.
pub const ASSETS: &[Asset] = &[
    asset!("console.css", "text/css; charset=utf-8"),
    asset!("favicon.svg", "image/svg+xml"),
    asset!("app.js", JS),
    asset!("api.js", JS),
    asset!("dom.js", JS),
    asset!("share.js", JS),
    asset!("page-login.js", JS),
    asset!("page-users.js", JS),
    asset!("page-groups.js", JS),
    asset!("page-catalog.js", JS),
    asset!("page-flow.js", JS),
    asset!("page-secrets.js", JS),
    asset!("page-runs.js", JS),
    asset!("page-audit.js", JS),
    asset!("page-review.js", JS),
    asset!("page-password.js", JS),
];

/// The file called `name`, if there is one.
pub fn find(name: &str) -> Option<&'static Asset> {
    ASSETS.iter().find(|asset| asset.name == name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_single_segments_and_unique() {
        for (index, asset) in ASSETS.iter().enumerate() {
            assert!(!asset.name.contains('/'), "{}", asset.name);
            assert!(!asset.body.is_empty(), "{} is empty", asset.name);
            assert!(
                ASSETS[index + 1..]
                    .iter()
                    .all(|other| other.name != asset.name),
                "{} twice",
                asset.name
            );
        }
    }

    /// Every module a script imports is served, so the console never asks
    /// for a file that is not in the table.
    #[test]
    fn every_imported_module_is_in_the_table() {
        for asset in ASSETS.iter().filter(|asset| asset.name.ends_with(".js")) {
            let text = std::str::from_utf8(asset.body).expect("utf-8");
            for import in text.split("from './").skip(1) {
                let name = import.split('\'').next().unwrap_or_default();
                assert!(find(name).is_some(), "{} imports {name}", asset.name);
            }
        }
        let index = std::str::from_utf8(INDEX.body).expect("utf-8");
        for reference in index.split("/console/").skip(1) {
            let name = reference.split('"').next().unwrap_or_default();
            assert!(find(name).is_some(), "index.html references {name}");
        }
    }
}
