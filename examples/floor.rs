//! The wire's floor for `bench/run.sh`: a bare tonic unary call with an empty message over
//! loopback h2c, built like fleetsh's own server (multi-thread runtime with its default
//! workers, TCP_NODELAY) and client (current-thread runtime, one channel). No auth, no
//! database, no Lua: what is left is the cost of gRPC itself, the bound any fleetsh call is
//! measured against.
//!
//!   floor serve                  prints `127.0.0.1:PORT` and serves until killed
//!   floor bench ADDR N CONC      N calls, CONC in flight; prints the elapsed seconds

use std::convert::Infallible;
use std::future::{Ready, ready};
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Instant;

use futures::StreamExt;
use http::uri::PathAndQuery;
use tonic::body::Body;
use tonic::server::{Grpc as ServerGrpc, NamedService, UnaryService};
use tonic::transport::server::TcpIncoming;
use tonic::transport::{Channel, Endpoint, Server};
use tonic::{Request, Response, Status};
use tonic_prost::ProstCodec;

/// `()` is protobuf's empty message.
type Empty = ProstCodec<(), ()>;

const PATH: &str = "/floor.Floor/Ping";

struct Ping;

impl UnaryService<()> for Ping {
    type Response = ();
    type Future = Ready<Result<Response<()>, Status>>;

    fn call(&mut self, _: Request<()>) -> Self::Future {
        ready(Ok(Response::new(())))
    }
}

#[derive(Clone)]
struct Floor;

impl NamedService for Floor {
    const NAME: &'static str = "floor.Floor";
}

impl tower::Service<http::Request<Body>> for Floor {
    type Response = http::Response<Body>;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Infallible>> + Send>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: http::Request<Body>) -> Self::Future {
        // One method: every path answers Ping, which is all the bench calls.
        Box::pin(async move { Ok(ServerGrpc::new(Empty::default()).unary(Ping, req).await) })
    }
}

async fn serve() -> anyhow::Result<()> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    println!("{}", listener.local_addr()?);
    let incoming = TcpIncoming::from(listener).with_nodelay(Some(true));
    Server::builder()
        .add_service(Floor)
        .serve_with_incoming(incoming)
        .await?;
    Ok(())
}

async fn call(mut grpc: tonic::client::Grpc<Channel>) -> Result<(), Status> {
    grpc.ready()
        .await
        .map_err(|e| Status::unavailable(e.to_string()))?;
    let path = PathAndQuery::from_static(PATH);
    grpc.unary(Request::new(()), path, Empty::default())
        .await
        .map(drop)
}

async fn bench(addr: &str, n: usize, conc: usize) -> anyhow::Result<f64> {
    let channel = Endpoint::from_shared(format!("http://{addr}"))?
        .tcp_nodelay(true)
        .connect()
        .await?;
    let grpc = tonic::client::Grpc::new(channel);
    call(grpc.clone()).await?; // warm the connection, as fleetsh's token exchange does
    let start = Instant::now();
    if conc <= 1 {
        for _ in 0..n {
            call(grpc.clone()).await?;
        }
    } else {
        let mut calls = futures::stream::iter(0..n)
            .map(|_| call(grpc.clone()))
            .buffer_unordered(conc);
        while let Some(r) = calls.next().await {
            r?;
        }
    }
    Ok(start.elapsed().as_secs_f64())
}

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let usage = "usage: floor serve | floor bench ADDR N CONCURRENCY";
    match args.iter().map(String::as_str).collect::<Vec<_>>()[..] {
        // As many workers as `fleetsh serve` runs by default: one less than the CPUs.
        ["serve"] => tokio::runtime::Builder::new_multi_thread()
            .worker_threads(fleetsh::server::default_workers())
            .enable_all()
            .build()?
            .block_on(serve()),
        ["bench", addr, n, conc] => {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?;
            let secs = rt.block_on(bench(addr, n.parse()?, conc.parse()?))?;
            println!("{secs:.6}");
            Ok(())
        }
        _ => anyhow::bail!(usage),
    }
}
