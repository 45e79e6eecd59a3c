//! Just enough of GoBGP's gRPC API (`apipb.GobgpApi`, gobgp 3.10) to load
//! many routes at once: the client-streaming `AddPathStream` call, over
//! gobgpd's unix socket.
//!
//! The few messages it needs are written out by hand with prost's derive,
//! with the field numbers of `api/gobgp.proto` and `api/attribute.proto` of
//! gobgp 3.10 (Debian's `golang-github-osrg-gobgp-dev` ships them): no
//! protoc, no .proto file at build time. Fields left out are simply not
//! sent, which protobuf allows.
//!
//! The `gobgp` CLI adds one route per process (too slow for 100k), and
//! `gobgp mrt inject` drops routes in 3.10.

use std::net::Ipv4Addr;
use std::path::{Path as FsPath, PathBuf};

use ipnet::Ipv4Net;

use crate::error::{LabError, Result};

/// `AddPathStreamRequest`.
#[derive(Clone, PartialEq, prost::Message)]
struct AddPathStreamRequest {
    /// `TableType`: GLOBAL = 0.
    #[prost(int32, tag = "1")]
    table_type: i32,
    #[prost(string, tag = "2")]
    vrf_id: String,
    #[prost(message, repeated, tag = "3")]
    paths: Vec<Path>,
}

/// `Path`, the fields a new route needs.
#[derive(Clone, PartialEq, prost::Message)]
struct Path {
    #[prost(message, optional, tag = "1")]
    nlri: Option<prost_types::Any>,
    #[prost(message, repeated, tag = "2")]
    pattrs: Vec<prost_types::Any>,
    #[prost(message, optional, tag = "9")]
    family: Option<Family>,
}

/// `Family`: AFI_IP = 1, SAFI_UNICAST = 1.
#[derive(Clone, PartialEq, prost::Message)]
struct Family {
    #[prost(int32, tag = "1")]
    afi: i32,
    #[prost(int32, tag = "2")]
    safi: i32,
}

/// `IPAddressPrefix`.
#[derive(Clone, PartialEq, prost::Message)]
struct IpAddressPrefix {
    #[prost(uint32, tag = "1")]
    prefix_len: u32,
    #[prost(string, tag = "2")]
    prefix: String,
}

/// `OriginAttribute`: IGP = 0.
#[derive(Clone, PartialEq, prost::Message)]
struct OriginAttribute {
    #[prost(uint32, tag = "1")]
    origin: u32,
}

/// `NextHopAttribute`.
#[derive(Clone, PartialEq, prost::Message)]
struct NextHopAttribute {
    #[prost(string, tag = "1")]
    next_hop: String,
}

fn any(type_name: &str, message: &impl prost::Message) -> prost_types::Any {
    prost_types::Any {
        type_url: format!("type.googleapis.com/apipb.{type_name}"),
        value: message.encode_to_vec(),
    }
}

/// Originates every prefix in `prefixes` (IPv4 unicast, ORIGIN IGP,
/// NEXT_HOP `next_hop`) in gobgpd's global RIB through `AddPathStream`,
/// `batch` paths per streamed request. Returns when gobgpd has taken them
/// all (it answers once the stream ends).
pub fn add_ipv4_paths(
    socket: &FsPath,
    prefixes: &[Ipv4Net],
    next_hop: Ipv4Addr,
    batch: usize,
) -> Result<()> {
    let origin = any("OriginAttribute", &OriginAttribute { origin: 0 });
    let next_hop = any(
        "NextHopAttribute",
        &NextHopAttribute {
            next_hop: next_hop.to_string(),
        },
    );
    let requests: Vec<AddPathStreamRequest> = prefixes
        .chunks(batch.max(1))
        .map(|chunk| AddPathStreamRequest {
            table_type: 0,
            vrf_id: String::new(),
            paths: chunk
                .iter()
                .map(|p| Path {
                    nlri: Some(any(
                        "IPAddressPrefix",
                        &IpAddressPrefix {
                            prefix_len: u32::from(p.prefix_len()),
                            prefix: p.addr().to_string(),
                        },
                    )),
                    pattrs: vec![origin.clone(), next_hop.clone()],
                    family: Some(Family { afi: 1, safi: 1 }),
                })
                .collect(),
        })
        .collect();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| LabError::io("cannot build a runtime for gRPC", e))?;
    let socket = socket.to_path_buf();
    runtime.block_on(stream(socket, requests))
}

async fn stream(socket: PathBuf, requests: Vec<AddPathStreamRequest>) -> Result<()> {
    let grpc = |what: &str, e: &dyn std::fmt::Display| LabError::Command {
        command: format!("gRPC AddPathStream to gobgpd ({what})"),
        status: "failed".into(),
        stderr: e.to_string(),
    };
    let where_ = socket.display().to_string();
    // The URI is required but unused: the connector dials the unix socket.
    let channel = tonic::transport::Endpoint::from_static("http://gobgpd.invalid")
        .connect_with_connector(tower::service_fn(move |_: tonic::transport::Uri| {
            let socket = socket.clone();
            async move {
                let stream = tokio::net::UnixStream::connect(socket).await?;
                Ok::<_, std::io::Error>(hyper_util::rt::TokioIo::new(stream))
            }
        }))
        .await
        .map_err(|e| grpc(&format!("connect {where_}"), &e))?;
    let mut client = tonic::client::Grpc::new(channel);
    client.ready().await.map_err(|e| grpc("ready", &e))?;
    let path =
        tonic::codegen::http::uri::PathAndQuery::from_static("/apipb.GobgpApi/AddPathStream");
    let codec = tonic_prost::ProstCodec::<AddPathStreamRequest, ()>::default();
    client
        .client_streaming(
            tonic::Request::new(futures::stream::iter(requests)),
            path,
            codec,
        )
        .await
        .map_err(|e| grpc("call", &e))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use prost::Message as _;

    use super::*;

    #[test]
    fn messages_carry_gobgp_3_10_field_numbers() {
        // IPAddressPrefix { prefix_len = 1; prefix = 2 }: field 1 varint 32,
        // field 2 string "100.64.0.1".
        let prefix = IpAddressPrefix {
            prefix_len: 32,
            prefix: "100.64.0.1".into(),
        };
        let mut want = vec![0x08, 32, 0x12, 10];
        want.extend_from_slice(b"100.64.0.1");
        assert_eq!(prefix.encode_to_vec(), want);
        // Path.family is field 9 (length-delimited: 9 << 3 | 2 = 0x4a).
        let path = Path {
            nlri: None,
            pattrs: Vec::new(),
            family: Some(Family { afi: 1, safi: 1 }),
        };
        assert_eq!(path.encode_to_vec(), [0x4a, 4, 0x08, 1, 0x10, 1]);
        let any = any("OriginAttribute", &OriginAttribute { origin: 0 });
        assert_eq!(any.type_url, "type.googleapis.com/apipb.OriginAttribute");
    }
}
