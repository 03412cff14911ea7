//! Compiles `proto/broker.proto` (the RPC API, `broker --grpc`) into prost
//! messages and a tonic server and client, with protox: no protoc needed.

fn main() -> Result<(), Box<dyn std::error::Error>> {
    println!("cargo:rerun-if-changed=proto/broker.proto");
    let files = protox::compile(["proto/broker.proto"], ["proto"])?;
    tonic_prost_build::configure().compile_fds(files)?;
    Ok(())
}
