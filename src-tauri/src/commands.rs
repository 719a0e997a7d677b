//! The Tauri commands, generated from `rdesk_ipc::for_each_command!`: one
//! function per descriptor, typed by its args and output, each handing over
//! to the function of the same name in [`crate::handle`]. A command missing
//! there, or with other types, does not compile.

use rdesk_ipc::IpcError;
use tauri::ipc::Channel;
use tauri::{AppHandle, State};

use crate::handle;
use crate::shell::Shell;

macro_rules! tauri_commands {
    (
        plain { $($name:ident: $ty:ident($args:ty) -> $out:ty,)* }
        streaming { $($sname:ident: $sty:ident($sargs:ty) -> $sout:ty, $sprogress:ty,)* }
    ) => {
        $(
            #[tauri::command]
            async fn $name(
                app: AppHandle,
                shell: State<'_, Shell>,
                args: $args,
            ) -> Result<$out, IpcError> {
                handle::$name(&app, &shell, args).await
            }
        )*
        $(
            #[tauri::command]
            async fn $sname(
                app: AppHandle,
                shell: State<'_, Shell>,
                args: $sargs,
                progress: Channel<$sprogress>,
            ) -> Result<$sout, IpcError> {
                handle::$sname(&app, &shell, args, progress).await
            }
        )*

        /// The invoke handler for every command.
        pub fn handler() -> impl Fn(tauri::ipc::Invoke) -> bool + Send + Sync + 'static {
            tauri::generate_handler![$($name,)* $($sname,)*]
        }
    };
}

rdesk_ipc::for_each_command!(tauri_commands);
