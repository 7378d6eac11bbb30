//! Facts about runs and schedules, for the given/when/then tests of those
//! commands.
