fn main() {
    println!("fleetsh");
}
