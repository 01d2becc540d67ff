//! `/v1/embeddings` as the OpenAI API answers it.

use super::*;

#[tokio::test]
async fn openai_embeddings_match_the_model_in_float_and_base64() {
    let api = api();
    let texts = ["hello world", "a second input"];
    let expected = api.model.embed_text(&texts).unwrap();
    let r = api.call(Method::POST, "/v1/embeddings", Some(json!({"model": "fake-model", "input": texts}))).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["object"], "list");
    for (i, e) in expected.iter().enumerate() {
        assert_eq!(r.body["data"][i]["index"], i);
        let got: Vec<f32> = serde_json::from_value(r.body["data"][i]["embedding"].clone()).unwrap();
        assert_eq!(&got, e);
    }
    let tokens: usize = texts.iter().map(|t| t.len() + 2).sum();
    assert_eq!(r.body["usage"]["prompt_tokens"], tokens);
    assert_eq!(r.body["usage"]["total_tokens"], tokens);

    let r = api
        .call(
            Method::POST,
            "/v1/embeddings",
            Some(json!({"model": "fake-model", "input": texts[0], "encoding_format": "base64"})),
        )
        .await;
    let bytes =
        base64::engine::general_purpose::STANDARD.decode(r.body["data"][0]["embedding"].as_str().unwrap()).unwrap();
    let got: Vec<f32> = bytes.chunks_exact(4).map(|b| f32::from_le_bytes(b.try_into().unwrap())).collect();
    assert_eq!(got, expected[0]);

    // Token arrays are ids of the model's vocabulary; the model's special tokens are added.
    let ids: Vec<u32> = texts[0].bytes().map(u32::from).collect();
    for input in [json!(ids), json!([ids])] {
        let r = api.call(Method::POST, "/v1/embeddings", Some(json!({"model": "fake-model", "input": input}))).await;
        let got: Vec<f32> = serde_json::from_value(r.body["data"][0]["embedding"].clone()).unwrap();
        assert_eq!(got, expected[0]);
    }
    let r = api
        .call(Method::POST, "/v1/embeddings", Some(json!({"model": "fake-model", "input": "x", "dimensions": 8})))
        .await;
    assert_eq!(r.status, StatusCode::OK);

    // /v1/embed takes inputs of any kind in one list.
    let r = api
        .call(Method::POST, "/v1/embed", Some(json!({"model": "fake-model", "inputs": [texts[0], {"text": texts[1]}]})))
        .await;
    assert_eq!(r.body["dim"], 8);
    assert_eq!(r.body["data"][1]["modality"], "text");
    let got: Vec<f32> = serde_json::from_value(r.body["data"][1]["embedding"].clone()).unwrap();
    assert_eq!(got, expected[1]);
}
