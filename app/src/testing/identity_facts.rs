//! Facts about users, orgs, groups, sessions and API keys, for the given/when/then tests of those
//! commands.
