//! Tessera's measuring tools, built on its client library: load generation ([`loadgen`]), the
//! benchmark against a bare GStreamer floor and Janus ([`bench`]), the abrupt-departure stress
//! ([`loadgen::stress`]) and the memory soak ([`loadgen::soak`]). Each starts or reaches a
//! `tessera serve` process and measures it from outside, as an operator would.

#![deny(missing_docs)]

pub mod bench;
pub mod loadgen;
