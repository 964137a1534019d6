//! For unit tests: an HTTP server on 127.0.0.1 that answers the requests it gets with canned
//! answers, in turn, one per connection, and hands the tests what was sent.

use std::io::{Read, Write};
use std::sync::mpsc::Receiver;

/// Serves `answers` (a status line and headers, then a body); its address (`127.0.0.1:port`)
/// and each request (head and body) as it comes.
pub fn serve(answers: Vec<(&'static str, &'static str)>) -> (String, Receiver<String>) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap().to_string();
    let (requests, received) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for ((head, body), conn) in answers.into_iter().zip(listener.incoming()) {
            let mut conn = conn.unwrap();
            let _ = requests.send(read_request(&mut conn));
            let answer = format!("{head}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}", body.len());
            conn.write_all(answer.as_bytes()).unwrap();
        }
    });
    (address, received)
}

/// The head, and the body its Content-Length says.
fn read_request(conn: &mut std::net::TcpStream) -> String {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") && conn.read(&mut byte).unwrap() == 1 {
        head.push(byte[0]);
    }
    let head = String::from_utf8_lossy(&head).into_owned();
    let length = head
        .lines()
        .find_map(|l| l.split_once(':').filter(|(k, _)| k.eq_ignore_ascii_case("content-length")))
        .and_then(|(_, v)| v.trim().parse().ok())
        .unwrap_or(0);
    let mut body = vec![0u8; length];
    conn.read_exact(&mut body).unwrap();
    head + &String::from_utf8_lossy(&body)
}
