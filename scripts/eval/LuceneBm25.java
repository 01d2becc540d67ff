// The reference BM25 that BEIR's published figures come from: Elasticsearch's `english` analyzer
// and `multi_match` (`best_fields`, tie_breaker 0.5) over title and text, run here on Lucene 8
// itself (Debian's liblucene8-java) so that kin's text index can be compared with it.
//
//   java -cp "$(ls /usr/share/java/lucene-{core,analyzers-common}-8*.jar | paste -sd:)" \
//        scripts/eval/LuceneBm25.java run CORPUS.tsv QUERIES.tsv OUT.run [DEPTH]
//   java -cp … scripts/eval/LuceneBm25.java stem WORDS.txt OUT.tsv
//   java -cp … scripts/eval/LuceneBm25.java norms MAX OUT.tsv
//
// CORPUS.tsv: `id<TAB>title<TAB>text` per line; QUERIES.tsv: `id<TAB>text` (tabs, newlines and
// backslashes escaped as \t, \n and \\). `run` writes a TREC run (`qid Q0 docid rank score lucene`).
// `stem` writes `word<TAB>terms` (the analyzer's output, space-separated) for each input line.
// `norms` writes `length<TAB>decoded length` for 0..=MAX, as BM25 reads lengths back from norms.
// scripts/eval/bm25_reference.py drives it.

import java.io.*;
import java.nio.charset.StandardCharsets;
import java.nio.file.*;
import java.util.*;

import org.apache.lucene.analysis.Analyzer;
import org.apache.lucene.analysis.TokenStream;
import org.apache.lucene.analysis.en.EnglishAnalyzer;
import org.apache.lucene.analysis.tokenattributes.CharTermAttribute;
import org.apache.lucene.document.*;
import org.apache.lucene.index.*;
import org.apache.lucene.search.*;
import org.apache.lucene.search.similarities.BM25Similarity;
import org.apache.lucene.store.ByteBuffersDirectory;
import org.apache.lucene.util.SmallFloat;

public class LuceneBm25 {
    static String unescape(String s) {
        StringBuilder b = new StringBuilder(s.length());
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            if (c == '\\' && i + 1 < s.length()) {
                char n = s.charAt(++i);
                b.append(n == 't' ? '\t' : n == 'n' ? '\n' : n);
            } else {
                b.append(c);
            }
        }
        return b.toString();
    }

    static List<String> terms(Analyzer analyzer, String field, String text) throws IOException {
        List<String> out = new ArrayList<>();
        try (TokenStream ts = analyzer.tokenStream(field, text)) {
            CharTermAttribute term = ts.addAttribute(CharTermAttribute.class);
            ts.reset();
            while (ts.incrementToken()) {
                out.add(term.toString());
            }
            ts.end();
        }
        return out;
    }

    public static void main(String[] args) throws Exception {
        Analyzer analyzer = new EnglishAnalyzer();
        switch (args[0]) {
            case "stem": {
                try (PrintWriter out = new PrintWriter(Files.newBufferedWriter(Paths.get(args[2]), StandardCharsets.UTF_8))) {
                    for (String word : Files.readAllLines(Paths.get(args[1]), StandardCharsets.UTF_8)) {
                        out.println(word + "\t" + String.join(" ", terms(analyzer, "text", word)));
                    }
                }
                return;
            }
            case "norms": {
                int max = Integer.parseInt(args[1]);
                try (PrintWriter out = new PrintWriter(Files.newBufferedWriter(Paths.get(args[2]), StandardCharsets.UTF_8))) {
                    for (int n = 0; n <= max; n++) {
                        out.println(n + "\t" + SmallFloat.byte4ToInt(SmallFloat.intToByte4(n)));
                    }
                }
                return;
            }
            case "run":
                break;
            default:
                throw new IllegalArgumentException("unknown mode " + args[0]);
        }
        int depth = args.length > 4 ? Integer.parseInt(args[4]) : 1000;
        ByteBuffersDirectory dir = new ByteBuffersDirectory();
        IndexWriterConfig config = new IndexWriterConfig(analyzer).setSimilarity(new BM25Similarity(1.2f, 0.75f));
        List<String> ids = new ArrayList<>();
        try (IndexWriter writer = new IndexWriter(dir, config);
             BufferedReader in = Files.newBufferedReader(Paths.get(args[1]), StandardCharsets.UTF_8)) {
            for (String line; (line = in.readLine()) != null; ) {
                String[] parts = line.split("\t", -1);
                Document doc = new Document();
                doc.add(new StoredField("id", unescape(parts[0])));
                doc.add(new TextField("title", unescape(parts[1]), Field.Store.NO));
                doc.add(new TextField("text", unescape(parts[2]), Field.Store.NO));
                writer.addDocument(doc);
                ids.add(unescape(parts[0]));
            }
            writer.forceMerge(1);
        }
        try (IndexReader reader = DirectoryReader.open(dir);
             PrintWriter out = new PrintWriter(Files.newBufferedWriter(Paths.get(args[3]), StandardCharsets.UTF_8))) {
            IndexSearcher searcher = new IndexSearcher(reader);
            searcher.setSimilarity(new BM25Similarity(1.2f, 0.75f));
            for (String line : Files.readAllLines(Paths.get(args[2]), StandardCharsets.UTF_8)) {
                String[] parts = line.split("\t", -1);
                String qid = unescape(parts[0]);
                String text = unescape(parts[1]);
                // Elasticsearch's multi_match best_fields: one OR query per field, as a dis-max.
                List<Query> perField = new ArrayList<>();
                for (String field : new String[] {"title", "text"}) {
                    BooleanQuery.Builder b = new BooleanQuery.Builder();
                    for (String t : terms(analyzer, field, text)) {
                        b.add(new TermQuery(new Term(field, t)), BooleanClause.Occur.SHOULD);
                    }
                    perField.add(b.build());
                }
                Query query = new DisjunctionMaxQuery(perField, 0.5f);
                TopDocs top = searcher.search(query, depth);
                int rank = 1;
                for (ScoreDoc sd : top.scoreDocs) {
                    String id = reader.document(sd.doc).get("id");
                    out.println(qid + " Q0 " + id + " " + rank++ + " " + sd.score + " lucene");
                }
            }
        }
    }
}
