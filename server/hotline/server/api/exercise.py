"""ExerciseService and ZoneService: the exercise, its status, zones, exercise control."""

from __future__ import annotations

from hotline.server.admission import parse_credential_id
from hotline.server.api.common import Adapter, Context, abort, end_at_expiry
from hotline.server.consoles import ConsoleClosed
from hotline.server.envelope_checks import check_enum
from hotline.server.errors import InvalidArgument, Unauthenticated
from hotline.server.identity import Credential
from hotline.v1 import common_pb2, services_pb2, zones_pb2


class ExerciseService(Adapter):
    async def GetExercise(
        self, request: services_pb2.GetExerciseRequest, context: Context
    ) -> services_pb2.GetExerciseResponse:
        async def action(_: Credential) -> services_pb2.GetExerciseResponse:
            return services_pb2.GetExerciseResponse(exercise=self.switchboard.exercise.to_proto())

        return await self.call(context, "GetExercise", action)

    async def GetStatus(
        self, request: services_pb2.GetStatusRequest, context: Context
    ) -> services_pb2.GetStatusResponse:
        async def action(_: Credential) -> services_pb2.GetStatusResponse:
            return services_pb2.GetStatusResponse(
                stations=self.switchboard.station_statuses(),
                hotlines=self.switchboard.hotline_statuses(),
                log_size=self.switchboard.log_size,
            )

        return await self.call(context, "GetStatus", action)

    async def Watch(self, request: services_pb2.WatchRequest, context: Context) -> None:
        """Streams log records (serialised ``WatchResponse`` messages)."""

        async def action(credential: Credential) -> None:
            for i, hotline in enumerate(request.hotlines):
                check_enum(hotline, common_pb2.Hotline, f"hotlines[{i}]")
            console = self.switchboard.open_watch(credential, request.hotlines, context.peer())
            expiry = end_at_expiry(
                credential, lambda reason: console.close(reason, Unauthenticated)
            )
            try:
                if request.HasField("resume_after_index"):
                    await self.switchboard.watch_backlog(console, request.resume_after_index)
                while True:
                    for response in await console.next_responses():
                        await context.write(response)
            except ConsoleClosed as closed:
                if closed.error is Unauthenticated:
                    # The credential expired or was revoked: the watcher is told why.
                    await abort(context, Unauthenticated(closed.reason))
                return
            finally:
                if expiry is not None:
                    expiry.cancel()
                self.switchboard.close_watch(console)

        await self.call(context, "Watch", action)

    async def SuspendHotline(
        self, request: services_pb2.SuspendHotlineRequest, context: Context
    ) -> services_pb2.SuspendHotlineResponse:
        async def action(credential: Credential) -> services_pb2.SuspendHotlineResponse:
            check_enum(request.hotline, common_pb2.Hotline, "hotline")
            self.switchboard.set_suspended(credential, request.hotline, request.reason, True)
            return services_pb2.SuspendHotlineResponse()

        return await self.call(context, "SuspendHotline", action)

    async def ResumeHotline(
        self, request: services_pb2.ResumeHotlineRequest, context: Context
    ) -> services_pb2.ResumeHotlineResponse:
        async def action(credential: Credential) -> services_pb2.ResumeHotlineResponse:
            check_enum(request.hotline, common_pb2.Hotline, "hotline")
            self.switchboard.set_suspended(credential, request.hotline, "", False)
            return services_pb2.ResumeHotlineResponse()

        return await self.call(context, "ResumeHotline", action)

    async def Annotate(
        self, request: services_pb2.AnnotateRequest, context: Context
    ) -> services_pb2.AnnotateResponse:
        async def action(credential: Credential) -> services_pb2.AnnotateResponse:
            if not request.text and not request.bookmark:
                raise InvalidArgument("text: an annotation needs text or a bookmark")
            check_enum(request.hotline, common_pb2.Hotline, "hotline", required=False)
            about_index = request.about_index if request.HasField("about_index") else None
            if request.HasField("about_sequence"):
                credential.require_control("annotating the exercise")
                if about_index is not None:
                    raise InvalidArgument("about_sequence: give it or about_index, not both")
                about_index = await self.switchboard.index_of(
                    request.hotline, request.about_sequence
                )
            index = self.switchboard.annotate(
                credential,
                request.hotline,
                request.text,
                request.bookmark,
                about_index=about_index,
                about_time=request.about_time if request.HasField("about_time") else None,
            )
            return services_pb2.AnnotateResponse(index=index)

        return await self.call(context, "Annotate", action)

    async def RevokeCredential(
        self, request: services_pb2.RevokeCredentialRequest, context: Context
    ) -> services_pb2.RevokeCredentialResponse:
        async def action(credential: Credential) -> services_pb2.RevokeCredentialResponse:
            credential.require_control("revoking a credential")
            credential_id = parse_credential_id(request.credential_id.strip().lower())
            self.admission.revoke(credential_id)
            reason = f"credential {credential_id:x} was revoked by exercise control" + (
                f": {request.reason}" if request.reason else ""
            )
            ended = self.switchboard.end_sessions(self.admission.is_revoked, reason)
            index = self.switchboard.revoke(credential, f"{credential_id:x}", request.reason, ended)
            return services_pb2.RevokeCredentialResponse(sessions_ended=ended, index=index)

        return await self.call(context, "RevokeCredential", action)


class ZoneService(Adapter):
    async def ListZones(
        self, request: services_pb2.ListZonesRequest, context: Context
    ) -> services_pb2.ListZonesResponse:
        async def action(_: Credential) -> services_pb2.ListZonesResponse:
            for i, state in enumerate(request.states):
                check_enum(state, zones_pb2.ZoneState, f"states[{i}]")
            zones = self.switchboard.zones(request.states, request.owner_party)
            return services_pb2.ListZonesResponse(zones=zones)

        return await self.call(context, "ListZones", action)

    async def GetZone(
        self, request: services_pb2.GetZoneRequest, context: Context
    ) -> services_pb2.GetZoneResponse:
        async def action(_: Credential) -> services_pb2.GetZoneResponse:
            if not request.zone_id:
                raise InvalidArgument("zone_id: required")
            history = self.switchboard.zone_history(request.zone_id)
            current = next(z for z in self.switchboard.zones() if z.zone_id == request.zone_id)
            return services_pb2.GetZoneResponse(zone=current, history=history)

        return await self.call(context, "GetZone", action)
