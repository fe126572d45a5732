//! Exploration helper: fits models on an amazon_seqrec file with settings from the command line.
use std::path::Path;
use vitrine_recommend::covis::{CoVisitConfig, CoVisitScorer, CoVisitation};
use vitrine_recommend::seqrec::linear::{LinearSeqConfig, LinearSeqModel};
use vitrine_recommend::seqrec::{evaluate, Popularity, SeqDataset, Stage};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let data = SeqDataset::load(Path::new(&args[1])).unwrap();
    println!("{} users {} items", data.users(), data.items);
    let pop = Popularity::fit(&data);
    println!("pop valid {:?}", evaluate(&data, &pop, Stage::Valid));
    let mut graph = CoVisitation::new(CoVisitConfig::default());
    for s in &data.train {
        graph.observe_sequence(s);
    }
    let cov = CoVisitScorer { graph, tau: 1.0 };
    println!("covis valid {:?}", evaluate(&data, &cov, Stage::Valid));
    println!("covis test {:?}", evaluate(&data, &cov, Stage::Test));
    for spec in &args[2..] {
        let v: Vec<f32> = spec.split(',').map(|x| x.parse().unwrap()).collect();
        let config = LinearSeqConfig {
            alpha: v[0],
            lambda: v[1],
            tau_train: v[2],
            tau_infer: v[3],
            max_inputs: 20,
        };
        let t = std::time::Instant::now();
        let model = LinearSeqModel::fit(&data.train, data.items, config, &mut |_| {}).unwrap();
        let fit = t.elapsed();
        println!(
            "{spec} fit {fit:?} valid {:?}",
            evaluate(&data, &model, Stage::Valid)
        );
        println!("{spec} test {:?}", evaluate(&data, &model, Stage::Test));
    }
}
