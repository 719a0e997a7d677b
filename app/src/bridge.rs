//! Typed calls into the shell over Tauri's IPC (`window.__TAURI__`, which
//! the shell injects): a command is named only by its `rdesk_ipc`
//! descriptor, progress arrives on a Tauri channel, events by name.

use js_sys::{Function, Object, Promise, Reflect};
use rdesk_ipc::{Command, ErrorCode, IpcError, Streaming};
use serde::Serialize;
use serde::de::DeserializeOwned;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;

fn internal(what: &str) -> IpcError {
    IpcError::new(
        ErrorCode::Internal,
        format!("the window's bridge to the shell: {what}"),
    )
}

fn get(target: &JsValue, key: &str) -> Result<JsValue, IpcError> {
    Reflect::get(target, &JsValue::from_str(key))
        .ok()
        .filter(|v| !v.is_undefined())
        .ok_or_else(|| internal(&format!("`{key}` is missing")))
}

/// `window.__TAURI__.<part>`.
fn tauri(part: &str) -> Result<JsValue, IpcError> {
    let window = web_sys::window().ok_or_else(|| internal("no window"))?;
    get(&get(&window, "__TAURI__")?, part)
}

fn to_js<T: Serialize>(value: &T) -> Result<JsValue, IpcError> {
    value
        .serialize(&serde_wasm_bindgen::Serializer::json_compatible())
        .map_err(|e| internal(&e.to_string()))
}

async fn invoke_raw<C: Command>(payload: Object) -> Result<C::Output, IpcError> {
    let core = tauri("core")?;
    let invoke: Function = get(&core, "invoke")?
        .dyn_into()
        .map_err(|_| internal("invoke is not a function"))?;
    let promise: Promise = invoke
        .call2(&core, &JsValue::from_str(C::NAME), &payload)
        .map_err(|e| internal(&format!("{e:?}")))?
        .dyn_into()
        .map_err(|_| internal("invoke did not return a promise"))?;
    match JsFuture::from(promise).await {
        Ok(value) => serde_wasm_bindgen::from_value(value).map_err(|e| internal(&e.to_string())),
        Err(error) => Err(
            serde_wasm_bindgen::from_value(error.clone()).unwrap_or_else(|_| {
                internal(&error.as_string().unwrap_or_else(|| format!("{error:?}")))
            }),
        ),
    }
}

fn payload<C: Command>(args: &C::Args) -> Result<Object, IpcError> {
    let payload = Object::new();
    Reflect::set(&payload, &"args".into(), &to_js(args)?).map_err(|_| internal("args"))?;
    Ok(payload)
}

/// Calls command `C`.
pub async fn invoke<C: Command>(args: &C::Args) -> Result<C::Output, IpcError> {
    invoke_raw::<C>(payload::<C>(args)?).await
}

/// Calls command `C`, handing each progress message to `on_progress` as it comes.
pub async fn invoke_streaming<C: Streaming>(
    args: &C::Args,
    on_progress: impl Fn(C::Progress) + 'static,
) -> Result<C::Output, IpcError> {
    let payload = payload::<C>(args)?;
    let constructor: Function = get(&tauri("core")?, "Channel")?
        .dyn_into()
        .map_err(|_| internal("Channel is not a constructor"))?;
    let channel = Reflect::construct(&constructor, &js_sys::Array::new())
        .map_err(|_| internal("cannot make a channel"))?;
    let on_message = Closure::<dyn Fn(JsValue)>::new(move |message: JsValue| {
        if let Ok(progress) = serde_wasm_bindgen::from_value(message) {
            on_progress(progress);
        }
    });
    Reflect::set(&channel, &"onmessage".into(), on_message.as_ref())
        .map_err(|_| internal("onmessage"))?;
    Reflect::set(&payload, &"progress".into(), &channel).map_err(|_| internal("progress"))?;
    let result = invoke_raw::<C>(payload).await;
    // The channel may still deliver its last messages after the answer.
    on_message.forget();
    result
}

/// Calls `f` with every payload of the shell's event `name`, for the window's lifetime.
pub fn listen<T: DeserializeOwned + 'static>(name: &str, f: impl Fn(T) + 'static) {
    let Ok(event) = tauri("event") else { return };
    let Ok(listen) = get(&event, "listen").and_then(|l| {
        l.dyn_into::<Function>()
            .map_err(|_| internal("listen is not a function"))
    }) else {
        return;
    };
    let handler = Closure::<dyn Fn(JsValue)>::new(move |e: JsValue| {
        if let Some(payload) = get(&e, "payload")
            .ok()
            .and_then(|p| serde_wasm_bindgen::from_value(p).ok())
        {
            f(payload);
        }
    });
    let _ = listen.call2(&event, &JsValue::from_str(name), handler.as_ref());
    handler.forget();
}

/// The element under a drop point given in physical pixels.
pub fn element_at(x: f64, y: f64) -> Option<web_sys::Element> {
    let window = web_sys::window()?;
    let scale = window.device_pixel_ratio().max(1.0);
    window
        .document()?
        .element_from_point((x / scale) as f32, (y / scale) as f32)
}
