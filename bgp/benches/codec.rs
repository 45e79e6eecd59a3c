//! Codec throughput: one UPDATE with 700 IPv4 /32s, and 100k routes packed
//! into UPDATEs.

use std::hint::black_box;
use std::net::Ipv4Addr;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use ferrolb_bgp::wire::pack::announce_ipv4;
use ferrolb_bgp::wire::{
    AsPath, Asn, Codec, Community, Message, Nlri, Origin, PathAttribute, Update, decode_message,
};
use ipnet::Ipv4Net;

fn attributes() -> Vec<PathAttribute> {
    vec![
        PathAttribute::Origin(Origin::Igp),
        PathAttribute::AsPath(AsPath::sequence([Asn(65001)])),
        PathAttribute::NextHop(Ipv4Addr::new(192, 0, 2, 1)),
        PathAttribute::Communities(vec![Community::new(65001, 100)]),
    ]
}

fn hosts(n: u32) -> Vec<Nlri<Ipv4Net>> {
    (0..n)
        .filter_map(|i| Ipv4Net::new(Ipv4Addr::from(0x0a00_0000 + i), 32).ok())
        .map(Nlri::new)
        .collect()
}

fn one_update(c: &mut Criterion) {
    let codec = Codec::default();
    let message = Message::Update(Update {
        attributes: attributes(),
        nlri: hosts(700),
        ..Update::default()
    });
    let Ok(bytes) = message.to_bytes(&codec) else {
        return;
    };
    let mut group = c.benchmark_group("update_700_ipv4_hosts");
    group.throughput(Throughput::Bytes(bytes.len() as u64));
    group.bench_function("encode", |b| {
        b.iter(|| black_box(&message).to_bytes(&codec))
    });
    group.bench_function("decode", |b| {
        b.iter(|| decode_message(black_box(&bytes), &codec))
    });
    group.finish();
}

fn packed_routes(c: &mut Criterion) {
    const ROUTES: u32 = 100_000;
    let codec = Codec::default();
    let attrs = attributes();
    let routes = hosts(ROUTES);
    let Ok(messages) = announce_ipv4(&codec, &attrs, &routes) else {
        return;
    };
    let mut group = c.benchmark_group("pack_100k_ipv4_hosts");
    group.throughput(Throughput::Elements(u64::from(ROUTES)));
    group.sample_size(20);
    group.bench_function("encode", |b| {
        b.iter(|| announce_ipv4(&codec, black_box(&attrs), black_box(&routes)))
    });
    group.bench_function("decode", |b| {
        b.iter(|| {
            messages
                .iter()
                .filter_map(|m| decode_message(black_box(m), &codec).ok())
                .count()
        })
    });
    group.finish();
}

criterion_group!(benches, one_update, packed_routes);
criterion_main!(benches);
