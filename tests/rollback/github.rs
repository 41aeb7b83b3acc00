//! Through the fake GitHub: placeholder replaced below.
