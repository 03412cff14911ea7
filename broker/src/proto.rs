//! The RPC API's messages, server and client, generated at build time from
//! `proto/broker.proto` (see docs/grpc.md). The reactor's gRPC door
//! ([`crate::doors::grpc`]) speaks these messages with the side thread
//! ([`crate::grpc`]); the client is what the tests and the benchmark call.

#![allow(
    missing_docs,
    missing_debug_implementations,
    clippy::all,
    clippy::pedantic
)]

tonic::include_proto!("broker.v1");
