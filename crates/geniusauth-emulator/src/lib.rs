//! A local GeniusAuth-compatible server.
